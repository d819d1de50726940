"""A stand-in for an Ingress controller's one effect a deploy waits on: an address in each Ingress's status.

staging and prod ship an Ingress (a domain; prod also TLS). `pulumi up` waits until an Ingress has a load-balancer
address, which an ingress controller writes; the rehearsal's node runs none (the Service is reached directly,
`ClusterInfo.service_url`). So this thread writes the node's loopback as that address, as a controller would
write its own, and nothing else: routing by host name is not rehearsed.
"""

from __future__ import annotations

import threading

from kubernetes import client

ADDRESS = "127.0.0.1"


class IngressStatus:
    def __init__(self, api: client.ApiClient, every_s: float = 2.0) -> None:
        self.net = client.NetworkingV1Api(api)
        self.every_s = every_s
        self.stopped = threading.Event()
        self.patched: list[str] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                for ingress in self.net.list_ingress_for_all_namespaces().items:
                    if ingress.status and ingress.status.load_balancer and ingress.status.load_balancer.ingress:
                        continue
                    meta = ingress.metadata
                    status = {"status": {"loadBalancer": {"ingress": [{"ip": ADDRESS}]}}}
                    self.net.patch_namespaced_ingress_status(meta.name, meta.namespace, status)
                    self.patched.append(f"{meta.namespace}/{meta.name}")
            except client.exceptions.ApiException:
                continue  # the API server restarting or an Ingress deleted meanwhile: try again next round

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
