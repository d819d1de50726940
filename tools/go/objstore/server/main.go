// Command server is the test stand-in for the in-cluster object store (MinIO), for machines where MinIO's image
// cannot be pulled: the same command line (`server DIR --address :PORT`), the same credentials variables
// (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD), the same health paths (/minio/health/live and /ready), and the S3 API
// of gofakes3 with its objects kept in one bolt file on the store's volume.
//
// What it does not do: verify request signatures. It refuses a request without AWS credentials or with another
// access key id than MINIO_ROOT_USER (403 AccessDenied), so a client with the wrong key still fails.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
)

var credential = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func accessKey(r *http.Request) string {
	if m := credential.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" { // presigned URL
		if m := regexp.MustCompile(`^([^/]+)/`).FindStringSubmatch(c); m != nil {
			return m[1]
		}
	}
	return ""
}

// plainBody turns what newer S3 clients send into what gofakes3 reads: a body of known length. Chunked uploads
// (pyarrow's multipart parts) have none, and the aws-chunked encoding with trailing checksums
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER, the AWS SDKs' default since 2025) wraps the data in size lines and trailers.
func plainBody(r *http.Request) error {
	if r.Body == nil || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		if body, err = decodeAWSChunked(body); err != nil {
			return fmt.Errorf("aws-chunked body: %w", err)
		}
		r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		r.Header.Del("X-Amz-Decoded-Content-Length")
		r.Header.Del("Content-Encoding")
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func decodeAWSChunked(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	for {
		line, rest, found := bytes.Cut(raw, []byte("\r\n"))
		if !found {
			return nil, errors.New("a chunk header without CRLF")
		}
		sizeText, _, _ := strings.Cut(string(line), ";") // ";chunk-signature=…" on signed streams
		size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || size < 0 || int64(len(rest)) < size {
			return nil, fmt.Errorf("bad chunk size %q", sizeText)
		}
		if size == 0 {
			return out.Bytes(), nil // what follows are trailers (checksums), not data
		}
		out.Write(rest[:size])
		raw = bytes.TrimPrefix(rest[size:], []byte("\r\n"))
	}
}

func main() {
	if len(os.Args) < 3 || os.Args[1] != "server" {
		log.Fatalf("usage: %s server DIR [--address HOST:PORT]", os.Args[0])
	}
	dir, address := os.Args[2], ":9000"
	for i := 3; i+1 < len(os.Args); i++ {
		if os.Args[i] == "--address" {
			address = os.Args[i+1]
		}
	}
	user, password := os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD")
	if user == "" || password == "" {
		log.Fatal("MINIO_ROOT_USER and MINIO_ROOT_PASSWORD must be set")
	}
	backend, err := s3bolt.NewFile(filepath.Join(dir, "objects.db"))
	if err != nil {
		log.Fatalf("opening the store in %s: %v", dir, err)
	}
	s3 := gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("/minio/health/live", ok)
	mux.HandleFunc("/minio/health/ready", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if key := accessKey(r); key != user {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>`+
				`<Message>unknown access key %q</Message></Error>`, key)
			return
		}
		if err := plainBody(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s3.ServeHTTP(w, r)
	})
	log.Printf("object store stand-in: S3 on %s, data in %s", address, dir)
	log.Fatal(http.ListenAndServe(address, mux))
}
