// Command pause is the pod sandbox's process: it holds the pod's namespaces and does nothing else.
// Kubernetes' own pause image cannot be pulled here (no registry serves registry.k8s.io); this is the same job
// in Go: wait for SIGINT/SIGTERM and exit 0, and reap zombies as PID 1 of a shared process namespace must.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 16)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
