// Command pulumi-resource-kubernetes is mlrig's build entry point for the
// Pulumi Kubernetes provider. The upstream main package embeds two files that
// are gitignored upstream (so absent from the module zip); build-tools.sh
// generates them next to a copy of this file (see gen/) and builds there.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
