"""`make rehearse`: a repository's life played with the workflow files themselves (act), docs/cicd.md."""
