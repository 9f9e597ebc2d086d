#!/usr/bin/python3
"""ctest deploy_k8s: static checks of deploy/k8s/ and deploy/Dockerfile.

What it checks (nothing here runs Kubernetes or Docker, neither exists on the test machine):
  - every YAML file under deploy/ parses (PyYAML);
  - the kustomizations list files that exist; the GPU overlay adds an nvidia.com/gpu limit;
  - the Deployment: liveness on /healthz, readiness on /readyz, on the port the ConfigMap's
    ctd.yaml listens on; resources; non-root; the Prometheus scrape annotations on the Pod
    template and the Service with that port; the ConfigMap, Secret and PVC it names exist;
  - the ConfigMap's ctd.yaml passes `ctd check-config` (with CTD_POSTGRES_DSN from the Secret),
    and its drain (shutdown.drain_timeout_s + training.kill_grace_s + 10 s) fits in the
    Deployment's terminationGracePeriodSeconds;
  - the Dockerfile is multi-stage Debian bookworm, runs as a non-root user, and its runtime
    packages provide every shared library that bin/ctd and bin/ctd-train need (DT_NEEDED,
    resolved with ldd and dpkg -S on this Debian machine).
Usage: check_manifests.py SOURCE_DIR BINARY_DIR. Exit 77 (skipped) without PyYAML.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("python3-yaml not installed")
    sys.exit(77)

src, bindir = sys.argv[1], sys.argv[2]
deploy = os.path.join(src, "deploy")
k8s = os.path.join(deploy, "k8s")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# Every YAML file parses.
docs = {}
for path in sorted(glob.glob(os.path.join(deploy, "**", "*.y*ml"), recursive=True)):
    try:
        docs[os.path.relpath(path, deploy)] = load(path)
    except yaml.YAMLError as e:
        failures.append(f"{path}: {e}")
print(f"parsed {len(docs)} YAML files under deploy/")

# Kustomizations name existing files.
for kust in glob.glob(os.path.join(k8s, "**", "kustomization.yaml"), recursive=True):
    base = os.path.dirname(kust)
    for resource in load(kust)[0].get("resources", []):
        check(os.path.exists(os.path.join(base, resource)), f"{kust}: {resource} does not exist")

objects = {}
for resource in load(os.path.join(k8s, "kustomization.yaml"))[0]["resources"]:
    for doc in load(os.path.join(k8s, resource)):
        objects[(doc["kind"], doc["metadata"]["name"])] = doc

deployment = objects.get(("Deployment", "ctd"))
config_map = objects.get(("ConfigMap", "ctd-config"))
secret = objects.get(("Secret", "ctd-secrets"))
service = objects.get(("Service", "ctd"))
check(deployment and config_map and secret and service, "Deployment, ConfigMap, Secret or Service missing")
if failures:
    print("\n".join(failures))
    sys.exit(1)

ctd_yaml = yaml.safe_load(config_map["data"]["ctd.yaml"])
port = ctd_yaml["http"]["port"]
pod = deployment["spec"]["template"]
spec = pod["spec"]
container = next(c for c in spec["containers"] if c["name"] == "ctd")
named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}


def probe_port(probe):
    p = probe["httpGet"]["port"]
    return named_ports.get(p, p)


check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe is not /healthz")
check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe is not /readyz")
for name in ("livenessProbe", "readinessProbe", "startupProbe"):
    check(probe_port(container[name]) == port, f"{name} port is not ctd.yaml's http.port {port}")
check(container["resources"].get("requests") and container["resources"].get("limits"), "no resources")
security = spec.get("securityContext", {})
check(security.get("runAsNonRoot") is True and security.get("runAsUser", 0) != 0, "pod may run as root")
for c in spec["containers"] + spec.get("initContainers", []):
    check(c.get("securityContext", {}).get("allowPrivilegeEscalation") is False,
          f"{c['name']}: privilege escalation allowed")
for where, annotations in (("pod template", pod["metadata"]["annotations"]),
                           ("service", service["metadata"]["annotations"])):
    check(annotations.get("prometheus.io/scrape") == "true", f"{where}: no prometheus.io/scrape")
    check(annotations.get("prometheus.io/port") == str(port), f"{where}: prometheus.io/port != {port}")
    check(annotations.get("prometheus.io/path") == "/metrics", f"{where}: prometheus.io/path")
check(pod["metadata"]["labels"].items() >= service["spec"]["selector"].items(), "service selects no pod")
check(service["spec"]["ports"][0]["targetPort"] in named_ports, "service targetPort is not a container port")
check(ctd_yaml["http"]["listen_address"] == "0.0.0.0", "ctd listens on loopback only: probes would fail")
volumes = {v["name"]: v for v in spec["volumes"]}
check(volumes["config"]["configMap"]["name"] == "ctd-config", "config volume is not the ConfigMap")
claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
check(("PersistentVolumeClaim", claim) in objects, f"PVC {claim} missing")
mounts = {m["mountPath"] for m in container["volumeMounts"]}
check("/etc/ctd" in mounts and "/var/lib/ctd" in mounts, "config or data not mounted")
for path in (ctd_yaml["training"]["run_root"], ctd_yaml["registry"]["artifact_root"]):
    check(path.startswith("/var/lib/ctd/"), f"{path} is not on the data volume")
for c in spec["containers"] + spec.get("initContainers", []):
    refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
    check(refs == ["ctd-secrets"], f"{c['name']}: does not take its environment from ctd-secrets")
check("CTD_POSTGRES_DSN" in secret["stringData"], "the Secret has no CTD_POSTGRES_DSN")
init = spec.get("initContainers", [])
check(init and init[0]["args"][0] == "migrate", "no migrate init container")

# The GPU overlay adds a GPU limit to the ctd container.
gpu = load(os.path.join(k8s, "overlays", "gpu", "kustomization.yaml"))[0]
ops = [op for p in gpu["patches"] for op in yaml.safe_load(p["patch"])]
check(any(op["path"].endswith("/resources/limits/nvidia.com~1gpu") for op in ops), "GPU overlay has no GPU limit")

# The ConfigMap's configuration is valid for this ctd.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "ctd.yaml")
    with open(path, "w") as f:
        f.write(config_map["data"]["ctd.yaml"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTD_")}
    env["CTD_POSTGRES_DSN"] = secret["stringData"]["CTD_POSTGRES_DSN"]
    result = subprocess.run([os.path.join(bindir, "ctd"), "check-config", path], env=env,
                            capture_output=True, text=True, timeout=60)
    check(result.returncode == 0, f"ctd check-config rejects the ConfigMap's ctd.yaml:\n{result.stdout}{result.stderr}")
    check("CHANGE_ME" not in result.stdout, "check-config printed the DSN's password")
    if result.returncode == 0:
        resolved = yaml.safe_load(result.stdout)
        drain = resolved["shutdown"]["drain_timeout_s"] + resolved["training"]["kill_grace_s"] + 10
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(drain <= grace, f"the drain may take {drain} s, terminationGracePeriodSeconds is {grace}")

# The Dockerfile: multi-stage Debian 12, non-root, runtime packages cover the binaries.
with open(os.path.join(deploy, "Dockerfile")) as f:
    dockerfile = f.read()
stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.M | re.I)
check(len(stages) >= 2 and all(s[0].startswith("debian:bookworm") for s in stages), f"stages: {stages}")
check(re.search(r"^COPY --from=build ", dockerfile, re.M) is not None, "runtime copies nothing from build")
user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
check(user and not user[-1].startswith(("root", "0")), "the image runs as root")
check(f"--uid {security['runAsUser']}" in dockerfile, "image uid differs from the pod's runAsUser")
declared = set(re.search(r"^# runtime-packages: (.*)$", dockerfile, re.M).group(1).split())
runtime = dockerfile.split("AS runtime", 1)[1]
for package in declared:
    check(re.search(rf"\s{re.escape(package)}(\s|\\)", runtime), f"{package} declared but not installed")
base = {"libc6", "libgcc-s1"}  # in debian:bookworm-slim


def package_of(library_path):
    real = os.path.realpath(library_path)
    candidates = {library_path, real}
    for p in list(candidates):
        if p.startswith("/lib/"):
            candidates.add("/usr" + p)
        elif p.startswith("/usr/lib/"):
            candidates.add(p[4:])
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return None


for binary in ("ctd", "ctd-train"):
    path = os.path.join(bindir, binary)
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", subprocess.run(
        ["readelf", "-d", path], capture_output=True, text=True, check=True).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
        ["ldd", path], capture_output=True, text=True, check=True).stdout, re.M))
    for lib in needed:
        package = package_of(resolved[lib]) if lib in resolved else None
        check(package is not None, f"{binary}: cannot find the package of {lib}")
        if package:
            check(package in declared | base, f"{binary}: {lib} comes from {package}, not in the runtime stage")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("deploy/k8s and deploy/Dockerfile: all checks passed")
