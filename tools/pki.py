"""The local cluster's PKI, made with the `openssl` CLI (python `cryptography` is not installed here).

One CA; an admin certificate (CN=admin, O=system:masters) that serves the API and is every client's identity
(kube components, the API server's kubelet client); a service-account signing key; a bearer token; and, for the
aggregated API (metrics-server), a front-proxy CA with the API server's proxy client certificate.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Sequence
from pathlib import Path

FRONT_PROXY_CLIENT = "front-proxy-client"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(pki: Path, name: str, subject: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", subject,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        cwd=pki,
    )  # fmt: skip


def _signed(pki: Path, name: str, ca: str, subject: str, ext: str) -> None:
    (pki / f"{name}.ext").write_text(ext)
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", subject,
        cwd=pki,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-sha256", "-days", "3650", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        cwd=pki,
    )  # fmt: skip


def make_pki(pki: Path, ips: Sequence[str]) -> str:
    """Write every file into `pki`; `ips` are the API server's addresses (its SANs). Returns the admin token."""
    pki.mkdir(parents=True, exist_ok=True)
    _ca(pki, "ca", "/CN=mlrig-local-ca")
    sans = ",".join(
        ["DNS:localhost", *(f"IP:{ip}" for ip in ips)]
        + [f"DNS:kubernetes{s}" for s in ("", ".default", ".default.svc", ".default.svc.cluster.local")]
    )
    _signed(
        pki,
        "admin",
        "ca",
        "/O=system:masters/CN=admin",
        f"subjectAltName={sans}\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\n",
    )
    _ca(pki, "front-proxy-ca", "/CN=mlrig-front-proxy-ca")
    _signed(
        pki,
        "front-proxy-client",
        "front-proxy-ca",
        f"/CN={FRONT_PROXY_CLIENT}",
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
        "basicConstraints=critical,CA:FALSE\n",
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    token = secrets.token_hex(24)
    (pki / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    for f in pki.iterdir():
        if f.suffix in (".key", ".csv"):
            f.chmod(0o600)
    return token


def write_kubeconfig(path: Path, api_url: str, ca_file: Path, token: str) -> None:
    # JSON is valid YAML; kubectl, client-go and the Pulumi provider read it.
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "mlrig-local", "cluster": {"server": api_url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "mlrig-local", "context": {"cluster": "mlrig-local", "user": "admin"}}],
        "current-context": "mlrig-local",
    }
    path.write_text(json.dumps(cfg, indent=2) + "\n")
    path.chmod(0o600)


def apiserver_flags(pki: Path) -> list[str]:
    """The API server's TLS, client-auth, kubelet-client and aggregation flags for this PKI."""
    return [
        f"--tls-cert-file={pki / 'admin.crt'}",
        f"--tls-private-key-file={pki / 'admin.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--token-auth-file={pki / 'tokens.csv'}",
        f"--service-account-key-file={pki / 'sa.key'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        # `kubectl logs/exec` and metrics go through the kubelet's API as system:masters
        f"--kubelet-client-certificate={pki / 'admin.crt'}",
        f"--kubelet-client-key={pki / 'admin.key'}",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
    ]
