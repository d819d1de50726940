// Command gen writes schema-embed.json (schema.json with "version" set) and
// terraform-mapping-embed.json (compacted) into OUTDIR, reading the tracked
// files of the provider module's cmd/pulumi-resource-kubernetes directory.
//
//	go run ./gen SRCDIR OUTDIR VERSION
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: gen SRCDIR OUTDIR VERSION")
	}
	src, out, version := os.Args[1], os.Args[2], os.Args[3]

	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		log.Fatal(err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		log.Fatalf("schema.json: %v", err)
	}
	spec.Version = version
	if raw, err = json.Marshal(spec); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "schema-embed.json"), raw, 0o644); err != nil {
		log.Fatal(err)
	}

	raw, err = os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		log.Fatal(err)
	}
	var mapping any
	if err := json.Unmarshal(raw, &mapping); err != nil {
		log.Fatalf("terraform-mapping.json: %v", err)
	}
	if raw, err = json.Marshal(mapping); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "terraform-mapping-embed.json"), raw, 0o644); err != nil {
		log.Fatal(err)
	}
}
