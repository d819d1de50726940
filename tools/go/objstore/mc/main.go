// Command mc is the part of MinIO's client the platform's bucket Job uses, for the stand-in image:
//
//	mc alias set NAME URL ACCESS_KEY SECRET_KEY
//	mc mb [--ignore-existing] NAME/BUCKET
//
// Aliases are kept in $MC_CONFIG_DIR/config.json (default ~/.mc), as mc does; requests are signed with SigV4.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

type alias struct {
	URL       string `json:"url"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

type config struct {
	Aliases map[string]alias `json:"aliases"`
}

func configPath() string {
	dir := os.Getenv("MC_CONFIG_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".mc")
	}
	return filepath.Join(dir, "config.json")
}

func load() config {
	c := config{Aliases: map[string]alias{}}
	if raw, err := os.ReadFile(configPath()); err == nil {
		_ = json.Unmarshal(raw, &c)
	}
	return c
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mc: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 6 && args[0] == "alias" && args[1] == "set":
		c := load()
		c.Aliases[args[2]] = alias{URL: args[3], AccessKey: args[4], SecretKey: args[5]}
		raw, _ := json.Marshal(c)
		if err := os.MkdirAll(filepath.Dir(configPath()), 0o700); err != nil {
			fail("%v", err)
		}
		if err := os.WriteFile(configPath(), raw, 0o600); err != nil {
			fail("%v", err)
		}
		fmt.Printf("Added `%s` successfully.\n", args[2])
	case len(args) >= 2 && args[0] == "mb":
		ignore, target := false, ""
		for _, a := range args[1:] {
			if a == "--ignore-existing" || a == "-p" {
				ignore = true
			} else {
				target = a
			}
		}
		name, bucket, found := strings.Cut(target, "/")
		a, known := load().Aliases[name]
		if !found || !known || bucket == "" {
			fail("%q is not ALIAS/BUCKET of a known alias", target)
		}
		client := s3.New(s3.Options{
			BaseEndpoint: aws.String(a.URL),
			Region:       "us-east-1",
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(a.AccessKey, a.SecretKey, ""),
		})
		_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !(ignore && (errors.As(err, &owned) || errors.As(err, &exists))) {
			fail("making bucket %s: %v", target, err)
		}
		fmt.Printf("Bucket created successfully `%s`.\n", target)
	default:
		fail("only `alias set NAME URL KEY SECRET` and `mb [--ignore-existing] ALIAS/BUCKET` are implemented")
	}
}
