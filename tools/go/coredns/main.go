// Command coredns is CoreDNS with only the plugins cluster DNS needs (the node's add-on, tools/addons.py):
// kubernetes answers <svc>.<ns>.svc.cluster.local from the API, plus errors, log, health, ready and cache.
// Upstream's default binary also links every cloud provider's SDK (route53, azure, clouddns, datadog tracing…):
// several times the cold build on 2 cores, for nothing a local cluster uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives in upstream's plugin.cfg order (the order plugins see a query in)
var directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
