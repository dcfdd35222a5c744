"""What the kube-apiserver does to an object before a validating admission webhook
(kube-audit-rest) sees it, and how it serialises the AdmissionReview.

Shared by testing/make_captures.py (hand-built capture files) and
testing/generate_fixtures.py (scenario fixtures from testing/k8s/*.yaml manifests).

Part 1 (builders): deterministic ids, Go struct order, Go maps, Go-like JSON, clocks,
managedFields, users, request options, pod building blocks, pod defaulting and the
mutating admission plugins (ServiceAccount, DefaultTolerationSeconds, Priority),
running-pod state, the AdmissionReview envelope and file checks.

Part 2 (SCHEMA_SRC, admit_create, settle, admit_update): the same behaviour applied to
plain manifests as a user would `kubectl apply` them: the Go struct order of every type
the fixtures use, the per-kind defaulting (SetDefaults_*), the registry's
PrepareForCreate and BeginCreate (uid, creationTimestamp, generation, Service IPs and
nodePorts, status reset), managedFields, the Pod admission plugins, the stored state of
an object (oldObject) and the merge of an UPDATE.
"""
import copy
import hashlib
import json
import uuid

# --------------------------------------------------------------------------
# helpers: deterministic ids, ordered structs, sorted maps, Go-like encoding
# --------------------------------------------------------------------------

def uid(label):
    """A deterministic UUIDv4-looking id derived from a label."""
    h = hashlib.sha256(("k8sadmission-fixture:" + label).encode()).digest()[:16]
    return str(uuid.UUID(bytes=h, version=4))


def hexd(label, n=64):
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}:{i}".encode()).hexdigest()
        i += 1
    return out[:n]


def suffix(label, n=5):
    # k8s utilrand alphabet (no vowels, no confusable digits)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = hashlib.sha256(label.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in h[:n])


ORDER = {
    "review": ["kind", "apiVersion", "request", "response"],
    "request": ["uid", "kind", "resource", "subResource", "requestKind",
                "requestResource", "requestSubResource", "name", "namespace",
                "operation", "userInfo", "object", "oldObject", "dryRun", "options"],
    "userInfo": ["username", "uid", "groups", "extra"],
    "object": ["kind", "apiVersion", "metadata", "immutable", "data", "stringData",
               "binaryData", "type", "spec", "status", "subjects", "roleRef",
               "rules", "aggregationRule", "template", "secrets", "imagePullSecrets",
               "automountServiceAccountToken"],
    "meta": ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
             "generation", "creationTimestamp", "deletionTimestamp",
             "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
             "finalizers", "managedFields"],
    "managedField": ["manager", "operation", "apiVersion", "time", "fieldsType",
                     "fieldsV1", "subresource"],
    "ownerRef": ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"],
    "podSpec": ["volumes", "initContainers", "containers", "ephemeralContainers",
                "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds",
                "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
                "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
                "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets",
                "hostname", "subdomain", "affinity", "schedulerName", "tolerations",
                "hostAliases", "priorityClassName", "priority", "dnsConfig",
                "readinessGates", "runtimeClassName", "enableServiceLinks",
                "preemptionPolicy", "overhead", "topologySpreadConstraints",
                "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates",
                "resourceClaims"],
    "container": ["name", "image", "command", "args", "workingDir", "ports", "envFrom",
                  "env", "resources", "resizePolicy", "restartPolicy", "volumeMounts",
                  "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
                  "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
                  "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
                  "targetContainerName"],
    "sc": ["capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser",
           "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
           "allowPrivilegeEscalation", "procMount", "seccompProfile", "appArmorProfile"],
    "podSc": ["seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup",
              "runAsNonRoot", "supplementalGroups", "supplementalGroupsPolicy",
              "fsGroup", "sysctls", "fsGroupChangePolicy", "seccompProfile",
              "appArmorProfile"],
    "caps": ["add", "drop"],
    "cport": ["name", "hostPort", "containerPort", "protocol", "hostIP"],
    "vmount": ["name", "readOnly", "recursiveReadOnly", "mountPath", "subPath",
               "mountPropagation", "subPathExpr"],
    "toleration": ["key", "operator", "value", "effect", "tolerationSeconds"],
    "deploySpec": ["replicas", "selector", "template", "strategy", "minReadySeconds",
                   "revisionHistoryLimit", "paused", "progressDeadlineSeconds"],
    "rsSpec": ["replicas", "minReadySeconds", "selector", "template"],
    "dsSpec": ["selector", "template", "updateStrategy", "minReadySeconds",
               "revisionHistoryLimit"],
    "stsSpec": ["replicas", "selector", "template", "volumeClaimTemplates",
                "serviceName", "podManagementPolicy", "updateStrategy",
                "revisionHistoryLimit", "minReadySeconds",
                "persistentVolumeClaimRetentionPolicy", "ordinals"],
    "jobSpec": ["parallelism", "completions", "activeDeadlineSeconds",
                "podFailurePolicy", "successPolicy", "backoffLimit",
                "backoffLimitPerIndex", "maxFailedIndexes", "selector",
                "manualSelector", "template", "ttlSecondsAfterFinished",
                "completionMode", "suspend", "podReplacementPolicy", "managedBy"],
    "cronSpec": ["schedule", "timeZone", "startingDeadlineSeconds",
                 "concurrencyPolicy", "suspend", "jobTemplate",
                 "successfulJobsHistoryLimit", "failedJobsHistoryLimit"],
    "svcSpec": ["ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs",
                "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges",
                "externalName", "externalTrafficPolicy", "healthCheckNodePort",
                "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
                "ipFamilyPolicy", "allocateLoadBalancerNodePorts",
                "loadBalancerClass", "internalTrafficPolicy"],
    "svcPort": ["name", "protocol", "appProtocol", "port", "targetPort", "nodePort"],
    "subject": ["kind", "apiGroup", "name", "namespace"],
    "rule": ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"],
    "podStatus": ["phase", "conditions", "message", "reason", "nominatedNodeName",
                  "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                  "initContainerStatuses", "containerStatuses", "qosClass",
                  "ephemeralContainerStatuses"],
    "podCond": ["type", "status", "lastProbeTime", "lastTransitionTime", "reason",
                "message"],
    "cStatus": ["name", "state", "lastState", "ready", "restartCount", "image",
                "imageID", "containerID", "started", "volumeMounts"],
    "deleteOptions": ["kind", "apiVersion", "gracePeriodSeconds", "preconditions",
                      "orphanDependents", "propagationPolicy", "dryRun"],
    "createOptions": ["kind", "apiVersion", "dryRun", "fieldManager", "fieldValidation"],
}


NULL = object()  # an explicit JSON null (None means "omitted")


def o(_typ, **kw):
    order = ORDER[_typ]
    unknown = set(kw) - set(order)
    assert not unknown, (_typ, unknown)
    return {k: (None if kw[k] is NULL else kw[k])
            for k in order if k in kw and kw[k] is not None}


def M(d):
    """A Go map: serialised with sorted keys."""
    return {k: d[k] for k in sorted(d)}


def go_json(obj):
    """Compact JSON the way Go's encoding/json writes it (HTML-safe escapes)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------
DAY = "2026-11-20"


def hms(sec):
    """seconds since 10:00:00 -> 'HH:MM:SS'"""
    h, rem = divmod(36000 + sec, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def t(sec):
    return f"{DAY}T{hms(sec)}Z"


# --------------------------------------------------------------------------
# managedFields (structured-merge-diff FieldsV1, approximated faithfully)
# --------------------------------------------------------------------------
# fields holding non-pointer structs or required lists: no "." member entry
NON_DOTTED = {"metadata", "spec", "template", "strategy", "updateStrategy",
              "resources", "jobTemplate", "status", "containers"}
# atomic maps/structs: recorded as a leaf
ATOMIC = {"selector", "podSelector", "roleRef", "nodeInfo", "daemonEndpoints",
          "capacity", "allocatable", "state", "lastState"}


def list_key(field, item):
    if not isinstance(item, dict):
        return None
    if field in ("containers", "initContainers", "ephemeralContainers", "volumes",
                 "env", "imagePullSecrets"):
        return {"name": item["name"]}
    if field == "volumeMounts":
        return {"mountPath": item["mountPath"]}
    # protocol is part of the key, TCP when the applied configuration leaves it out
    if field == "ports" and "containerPort" in item:
        return {"containerPort": item["containerPort"],
                "protocol": item.get("protocol", "TCP")}
    if field == "ports" and "port" in item:
        return {"port": item["port"], "protocol": item.get("protocol", "TCP")}
    if field == "conditions":
        return {"type": item["type"]}
    if field in ("podIPs", "hostIPs"):
        return {"ip": item["ip"]}
    if field == "addresses":
        return {"type": item["type"]}
    if field == "ownerReferences":
        return {"uid": item["uid"]}
    return None


def fset(v, field=None):
    if isinstance(v, dict):
        if not v or field in ATOMIC:
            return {}
        out = {}
        if field is not None and field not in NON_DOTTED:
            out["."] = {}
        for k, x in v.items():
            out["f:" + k] = fset(x, k)
        return {k: out[k] for k in sorted(out)}
    if isinstance(v, list):
        if not v or list_key(field, v[0]) is None:
            return {}
        out = {}
        if field not in NON_DOTTED:
            out["."] = {}
        for item in v:
            key = "k:" + json.dumps(list_key(field, item), separators=(",", ":"),
                                    sort_keys=True)
            out[key] = {} if field == "ownerReferences" else fset(item, "__item__")
        return {k: out[k] for k in sorted(out)}
    return {}


SYSTEM_META = {"name", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "managedFields", "selfLink"}


def owned_view(obj, drop_status=True):
    v = copy.deepcopy(obj)
    v.pop("kind", None)
    v.pop("apiVersion", None)
    md = v.get("metadata", {})
    for k in list(md):
        if k in SYSTEM_META:
            del md[k]
    if not md:
        v.pop("metadata", None)
    if drop_status:
        v.pop("status", None)
    return v


def mf(manager, operation, api_version, sec, fields_obj, subresource=None):
    return o("managedField", manager=manager, operation=operation,
             apiVersion=api_version, time=t(sec), fieldsType="FieldsV1",
             fieldsV1=fset(fields_obj), subresource=subresource)


# --------------------------------------------------------------------------
# users
# --------------------------------------------------------------------------

def x509_user(name, groups):
    return o("userInfo", username=name, groups=groups + ["system:authenticated"],
             extra=M({"authentication.kubernetes.io/credential-id":
                      ["X509SHA256=" + hexd("cert:" + name)]}))


def sa_user(ns, name, pod=None, node=None):
    extra = {"authentication.kubernetes.io/credential-id":
             ["JTI=" + uid(f"jti:{ns}:{name}")]}
    if pod:
        extra["authentication.kubernetes.io/node-name"] = [node]
        extra["authentication.kubernetes.io/node-uid"] = [uid("node:" + node)]
        extra["authentication.kubernetes.io/pod-name"] = [pod]
        extra["authentication.kubernetes.io/pod-uid"] = [uid(f"pod:{ns}/{pod}")]
    return o("userInfo", username=f"system:serviceaccount:{ns}:{name}",
             uid=uid(f"sa:{ns}/{name}"),
             groups=["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                     "system:authenticated"],
             extra=M(extra))


ALICE = x509_user("alice", ["dev"])
BOB = x509_user("bob", ["dev", "oncall"])
ADMIN = x509_user("kubernetes-admin", ["kubeadm:cluster-admins"])
CI = sa_user("ci", "deployer", pod="gitlab-runner-7f9c6d5b8-qv4tz", node="worker-2")
RS_CTRL = sa_user("kube-system", "replicaset-controller")
DEPLOY_CTRL = sa_user("kube-system", "deployment-controller")


def node_user(node):
    return o("userInfo", username=f"system:node:{node}",
             groups=["system:nodes", "system:authenticated"],
             extra=M({"authentication.kubernetes.io/credential-id":
                      ["X509SHA256=" + hexd("cert:node:" + node)]}))


# --------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------

def create_opts(manager=None, dry=False, strict=None):
    if strict is None:
        strict = manager is not None and manager.startswith("kubectl-")
    return o("createOptions", kind="CreateOptions", apiVersion="meta.k8s.io/v1",
             dryRun=["All"] if dry else None, fieldManager=manager,
             fieldValidation="Strict" if strict else None)


def update_opts(manager=None, strict=None):
    d = create_opts(manager, strict=strict)
    d["kind"] = "UpdateOptions"
    return d


def delete_opts(grace=None):
    return o("deleteOptions", kind="DeleteOptions", apiVersion="meta.k8s.io/v1",
             gracePeriodSeconds=grace, propagationPolicy="Background")


# --------------------------------------------------------------------------
# pod building blocks
# --------------------------------------------------------------------------

def pull_policy(image):
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def cport(container_port, host_port=None, name=None):
    return o("cport", name=name, hostPort=host_port, containerPort=container_port,
             protocol="TCP")


def vmount(name, path, ro=None):
    return o("vmount", name=name, readOnly=ro, mountPath=path)


def sc(**kw):
    if "capabilities" in kw and kw["capabilities"] is not None:
        kw["capabilities"] = o("caps", **kw["capabilities"])
    return o("sc", **kw)


def container(name, image, command=None, args=None, ports=None, env=None,
              resources=None, mounts=None, security=None, stdin=None, tty=None,
              target=None, pull=None):
    return o("container", name=name, image=image, command=command, args=args,
             ports=ports, env=env, resources=resources if resources is not None else {},
             volumeMounts=mounts, terminationMessagePath="/dev/termination-log",
             terminationMessagePolicy="File",
             imagePullPolicy=pull or pull_policy(image), securityContext=security,
             stdin=stdin, tty=tty, targetContainerName=target)


def hostpath_vol(name, path, typ=""):
    return {"name": name, "hostPath": {"path": path, "type": typ}}


def podspec(containers, init=None, volumes=None, restart="Always", sa=None,
            host_network=None, host_pid=None, host_ipc=None, psc=None,
            tolerations=None, priority_class=None, node_selector=None,
            dns="ClusterFirst"):
    kw = dict(volumes=volumes, initContainers=init, containers=containers,
              restartPolicy=restart, terminationGracePeriodSeconds=30,
              dnsPolicy=dns, nodeSelector=M(node_selector) if node_selector else None,
              serviceAccountName=sa, serviceAccount=sa,
              hostNetwork=host_network, hostPID=host_pid, hostIPC=host_ipc,
              securityContext=o("podSc", **(psc or {})),
              schedulerName="default-scheduler", tolerations=tolerations,
              priorityClassName=priority_class)
    spec = o("podSpec", **kw)
    if host_network:
        # SetDefaults_PodSpec for Pods (not templates since 1.28)
        pass
    return spec


DEFAULT_TOLERATIONS = [
    o("toleration", key="node.kubernetes.io/not-ready", operator="Exists",
      effect="NoExecute", tolerationSeconds=300),
    o("toleration", key="node.kubernetes.io/unreachable", operator="Exists",
      effect="NoExecute", tolerationSeconds=300),
]

PRIORITY = {None: 0, "system-cluster-critical": 2000000000,
            "system-node-critical": 2000001000}

SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def pod_defaults(spec):
    """SetDefaults_Pod / SetDefaults_PodSpec bits that only apply to Pods."""
    spec = copy.deepcopy(spec)
    spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for fam in ("initContainers", "containers"):
            for c in spec.get(fam, []):
                for p in c.get("ports", []):
                    if "hostPort" not in p:
                        p2 = o("cport", name=p.get("name"), hostPort=p["containerPort"],
                               containerPort=p["containerPort"], protocol=p["protocol"])
                        p.clear()
                        p.update(p2)
    return o("podSpec", **spec)


def pod_admission(spec, pod_name):
    """Mutating admission plugins: ServiceAccount, DefaultTolerationSeconds, Priority."""
    spec = copy.deepcopy(spec)
    sa = spec.get("serviceAccountName") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    if spec.get("automountServiceAccountToken") is not False:
        vname = "kube-api-access-" + suffix("sa-vol:" + pod_name)
        vol = {"name": vname, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}}
        spec["volumes"] = (spec.get("volumes") or []) + [vol]
        for fam in ("initContainers", "containers"):
            for i, c in enumerate(spec.get(fam, [])):
                c["volumeMounts"] = (c.get("volumeMounts") or []) + [
                    vmount(vname, SA_MOUNT, True)]
                spec[fam][i] = o("container", **c)
    tol = spec.get("tolerations") or []
    keys = {x.get("key") for x in tol}
    if not any(x.get("operator") == "Exists" and "key" not in x for x in tol):
        for d in DEFAULT_TOLERATIONS:
            if d["key"] not in keys:
                tol = tol + [d]
    spec["tolerations"] = tol
    spec["priority"] = PRIORITY[spec.get("priorityClassName")]
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    return o("podSpec", **spec)


def qos(spec):
    for fam in ("initContainers", "containers"):
        for c in spec.get(fam, []):
            if c.get("resources"):
                return "Burstable"
    return "BestEffort"


def meta(name, ns, created, labels=None, annotations=None, owner=None,
         generate_name=None, rv=None, generation=None, uid_label=None):
    return o("meta", name=name, generateName=generate_name, namespace=ns,
             uid=uid(uid_label or f"obj:{ns}/{name}"), resourceVersion=rv,
             generation=generation, creationTimestamp=created,
             labels=M(labels) if labels else None,
             annotations=M(annotations) if annotations else None,
             ownerReferences=owner)


def last_applied(manifest):
    """kubectl.kubernetes.io/last-applied-configuration: sorted compact JSON + \\n"""
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False) + "\n"


def make_pod(name, ns, spec, sec, manager, labels=None, annotations=None,
             owner=None, generate_name=None, op="Update"):
    """A Pod as seen by a validating webhook on CREATE."""
    spec = pod_defaults(spec)
    md = meta(name, ns, t(sec), labels=labels, annotations=annotations,
              owner=owner, generate_name=generate_name)
    obj = o("object", kind="Pod", apiVersion="v1", metadata=md, spec=spec)
    md["managedFields"] = [mf(manager, op, "v1", sec, owned_view(obj))]
    obj["spec"] = pod_admission(spec, name)
    obj["status"] = {"phase": "Pending", "qosClass": qos(obj["spec"])}
    return obj


def running(pod, node, ip, sec_created, sec_now, rv, image_ids):
    """The same pod after scheduling and start (for oldObject / UPDATE)."""
    p = copy.deepcopy(pod)
    p["metadata"] = o("meta", **{**p["metadata"], "resourceVersion": rv})
    p["spec"] = o("podSpec", **{**p["spec"], "nodeName": node})
    started = t(sec_created + 2)
    conds = [o("podCond", type=ty, status="True", lastProbeTime=NULL,
               lastTransitionTime=t(sec_created + d))
             for ty, d in (("PodReadyToStartContainers", 2), ("Initialized", 1),
                           ("Ready", 3), ("ContainersReady", 3), ("PodScheduled", 0))]
    host_ip = {"worker-1": "10.0.1.11", "worker-2": "10.0.1.12"}[node]
    if p["spec"].get("hostNetwork"):
        ip = host_ip
    statuses = []
    for c in p["spec"]["containers"]:
        img = c["image"]
        full = img if "/" in img.split(":")[0] and "." in img.split("/")[0] else \
            "docker.io/library/" + img if "/" not in img else "docker.io/" + img
        if "@" not in full and ":" not in full.rsplit("/", 1)[-1]:
            full += ":latest"
        mounts = [{"name": m["name"], "mountPath": m["mountPath"],
                   **({"readOnly": True, "recursiveReadOnly": "Disabled"}
                      if m.get("readOnly") else {})}
                  for m in c.get("volumeMounts", [])]
        statuses.append(o("cStatus", name=c["name"],
                          state={"running": {"startedAt": started}}, lastState={},
                          ready=True, restartCount=0, image=full,
                          imageID=full.split(":")[0].split("@")[0] + "@sha256:" +
                          image_ids.get(c["name"], hexd("img:" + img)),
                          containerID="containerd://" + hexd(f"cid:{pod['metadata']['name']}:{c['name']}"),
                          started=True, volumeMounts=mounts or None))
    p["status"] = o("podStatus", phase="Running", conditions=conds, hostIP=host_ip,
                    hostIPs=[{"ip": host_ip}], podIP=ip, podIPs=[{"ip": ip}],
                    startTime=t(sec_created + 1), containerStatuses=statuses,
                    qosClass=p["status"]["qosClass"])
    st = owned_view({"status": p["status"]}, drop_status=False)
    p["metadata"]["managedFields"] = p["metadata"]["managedFields"] + [
        mf("kubelet", "Update", "v1", sec_now - 30, st, subresource="status")]
    return p


def template(labels, spec):
    return {"metadata": {"creationTimestamp": None, "labels": M(labels)}, "spec": spec}


# --------------------------------------------------------------------------
# request / review
# --------------------------------------------------------------------------

def gvk(group, version, kind):
    return {"group": group, "version": version, "kind": kind}


def gvr(group, version, resource):
    return {"group": group, "version": version, "resource": resource}


def review(uid_label, kind, resource, op, user, name=None, ns=None, obj=None,
           old=None, options=None, sub=None, dry=False, ts=None,
           api="admission.k8s.io/v1"):
    req = o("request", uid=uid("req:" + uid_label), kind=kind, resource=resource,
            subResource=sub, requestKind=kind, requestResource=resource,
            requestSubResource=sub, name=name, namespace=ns, operation=op,
            userInfo=user, object=obj, oldObject=old, dryRun=dry, options=options)
    # object/oldObject/options are RawExtension: nil encodes as null
    for k in ("object", "oldObject", "options"):
        req.setdefault(k, None)
    req = {k: req[k] for k in ORDER["request"] if k in req}
    rv = {"kind": "AdmissionReview", "apiVersion": api, "request": req}
    if ts is not None:
        rv["requestReceivedTimestamp"] = ts
    return rv


# fraction patterns for kube-audit-rest's RFC3339Nano timestamps (Go trims zeros)
FRACS = ["123456789", "417803552", "208341", "981274613", "502", "66310947",
         "734120558", "45219", "", "310764881", "873", "129004731", "605432119",
         "88734", "274915003", "901388271", "7", "563211487", "348576902",
         "611029", "19384771", "842", "997120345", "45560089", "230118457",
         "760341", "389120877", "513", "604412399", "287551043", "91544013",
         "736102", "118804967", "44", "870023511", "325640118", "6720319"]


def ts_for(i, sec):
    f = FRACS[i % len(FRACS)]
    return f"{DAY}T{hms(sec)}" + (("." + f) if f else "") + "Z"



# --------------------------------------------------------------------------
# the sample capture
# --------------------------------------------------------------------------
CORE_POD = gvk("", "v1", "Pod")
PODS = gvr("", "v1", "pods")

def deployment(name, ns, tpl, sec, replicas, match, manager, annotations=None,
               labels=None):
    md = meta(name, ns, t(sec), generation=1, labels=labels, annotations=annotations)
    d = o("object", kind="Deployment", apiVersion="apps/v1", metadata=md,
          spec=o("deploySpec", replicas=replicas, selector={"matchLabels": M(match)},
                 template=tpl,
                 strategy={"type": "RollingUpdate",
                           "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 revisionHistoryLimit=10, progressDeadlineSeconds=600))
    if manager:
        md["managedFields"] = [mf(manager, "Update", "apps/v1", sec, owned_view(d))]
    d["status"] = {}
    return d


def dep_status(gen, replicas, rs_name, created, now):
    return {"observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": t(created + 9),
                 "lastTransitionTime": t(created + 9), "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": t(now),
                 "lastTransitionTime": t(created), "reason": "NewReplicaSetAvailable",
                 "message": f"ReplicaSet \"{rs_name}\" has successfully progressed."}]}


# --------------------------------------------------------------------------
# write + validate
# --------------------------------------------------------------------------

def framing_ok(line: bytes):
    if line.endswith(b"\r"):
        line = line[:-1]
    s = line.strip(b" \t\r\n\x0b\x0c")
    if not s:
        return "blank"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return "malformed"
    if s[:1] == b"{" and s[-1:] == b"}":
        return "event"
    return "malformed"


def describe(rv):
    r = rv.get("request") if isinstance(rv, dict) else None
    if not isinstance(r, dict) or not isinstance(r.get("uid"), str) or not r.get("uid"):
        return None
    k = r.get("kind") or {}
    kind = (k.get("group") + "/" if k.get("group") else "") + k.get("kind", "")
    res = (r.get("resource") or {}).get("resource", "")
    if r.get("subResource"):
        res += "/" + r["subResource"]
    target = (r.get("namespace") + "/" if r.get("namespace") else "") + (r.get("name") or "")
    return {"op": r.get("operation"), "kind": kind, "res": res, "target": target,
            "user": (r.get("userInfo") or {}).get("username", ""),
            "ts": rv.get("requestReceivedTimestamp", "-"),
            "dry": r.get("dryRun")}


def check_file(path, notes):
    data = open(path, "rb").read()
    assert len(data) < 200 * 1024, (path, len(data))
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts = parts[:-1]
    rows = []
    uids = set()
    for n, line in enumerate(parts, 1):
        note, expect = notes[n - 1]
        fr = framing_ok(line)
        parsed = None
        if fr == "event":
            try:
                parsed = json.loads(line.decode("utf-8"))
            except Exception:
                parsed = None
        info = describe(parsed) if parsed is not None else None
        if expect == "valid":
            assert fr == "event" and info, (path, n, fr)
            assert info["ts"] == "-" or list(parsed)[-1] == "requestReceivedTimestamp", (path, n)
            assert list(parsed)[:3] == ["kind", "apiVersion", "request"], (path, n)
            assert info and parsed["request"]["uid"] not in uids, (path, n, "dup uid")
            uids.add(parsed["request"]["uid"])
            r = parsed["request"]
            assert list(r) == [k for k in ORDER["request"] if k in r], (path, n)
            for k in ("object", "oldObject", "options", "dryRun"):
                assert k in r, (path, n, k)
            if r["operation"] == "DELETE":
                assert r["object"] is None and r["oldObject"] is not None
            if r["operation"] == "CONNECT":
                assert r["options"] is None and r["oldObject"] is None
            if r["operation"] == "UPDATE":
                assert r["object"] is not None and r["oldObject"] is not None
        elif expect == "invalid":
            assert fr == "event" and parsed is not None and info is None, (path, n)
        elif expect == "blank":
            assert fr == "blank", (path, n)
        elif expect == "malformed":
            assert fr == "malformed" or parsed is None, (path, n)
        rows.append((n, expect, info, note, line.endswith(b"\r"), len(line)))
    return rows, len(data)




# ==========================================================================
# Part 2: plain manifests -> the objects a validating webhook receives
# ==========================================================================
# The Go struct order of every type the manifests use. "field:Type" recurses into a
# struct, "field:[]Type" into a list of structs, "field:map" is a Go map (sorted keys),
# "field:{}" an object kept as written, a bare "field" a scalar or a value kept as
# written. Suffixes: "?" = omitempty on a
# non-pointer scalar (false, 0 and "" vanish, e.g. `hostNetwork: false` and
# `readOnly: false` never reach a webhook); "!" = a non-pointer struct or metav1.Time,
# always serialised ({} or null) even when unset. An unknown field is an error: extend
# the schema rather than let a manifest silently differ from what the apiserver sends.
SCHEMA_SRC = {
    # meta
    "ObjectMeta": "name? generateName? namespace? selfLink? uid? resourceVersion? "
                  "generation? creationTimestamp! deletionTimestamp deletionGracePeriodSeconds "
                  "labels:map annotations:map ownerReferences:[]OwnerReference finalizers "
                  "managedFields",
    "OwnerReference": "apiVersion kind name uid controller blockOwnerDeletion",
    "LabelSelector": "matchLabels:map matchExpressions:[]LabelSelectorRequirement",
    "LabelSelectorRequirement": "key operator values",
    "LocalObjectReference": "name?",
    # pods
    "PodSpec": "volumes:[]Volume initContainers:[]Container containers:[]Container "
               "ephemeralContainers:[]Container restartPolicy? terminationGracePeriodSeconds "
               "activeDeadlineSeconds dnsPolicy? nodeSelector:map serviceAccountName? "
               "serviceAccount? automountServiceAccountToken nodeName? hostNetwork? hostPID? "
               "hostIPC? shareProcessNamespace securityContext:PodSecurityContext "
               "imagePullSecrets:[]LocalObjectReference hostname? subdomain? affinity "
               "schedulerName? tolerations:[]Toleration hostAliases priorityClassName? "
               "priority dnsConfig readinessGates runtimeClassName enableServiceLinks "
               "preemptionPolicy overhead:map topologySpreadConstraints setHostnameAsFQDN os "
               "hostUsers schedulingGates resourceClaims",
    "Container": "name image? command args workingDir? ports:[]ContainerPort envFrom "
                 "env:[]EnvVar resources:ResourceRequirements! resizePolicy restartPolicy "
                 "volumeMounts:[]VolumeMount volumeDevices livenessProbe:Probe "
                 "readinessProbe:Probe startupProbe:Probe lifecycle terminationMessagePath? "
                 "terminationMessagePolicy? imagePullPolicy? securityContext:SecurityContext "
                 "stdin? stdinOnce? tty? targetContainerName?",
    "ContainerPort": "name? hostPort? containerPort protocol? hostIP?",
    "EnvVar": "name value? valueFrom:EnvVarSource",
    "EnvVarSource": "fieldRef:ObjectFieldSelector resourceFieldRef "
                    "configMapKeyRef:KeySelector secretKeyRef:KeySelector",
    "ObjectFieldSelector": "apiVersion? fieldPath",
    "KeySelector": "name? key optional",
    "ResourceRequirements": "limits:map requests:map claims",
    "VolumeMount": "name readOnly? recursiveReadOnly mountPath subPath? mountPropagation "
                   "subPathExpr?",
    "Probe": "exec httpGet:HTTPGetAction tcpSocket grpc initialDelaySeconds? timeoutSeconds? "
             "periodSeconds? successThreshold? failureThreshold? terminationGracePeriodSeconds",
    "HTTPGetAction": "path? port host? scheme? httpHeaders",
    "SecurityContext": "capabilities:Capabilities privileged seLinuxOptions windowsOptions "
                       "runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem "
                       "allowPrivilegeEscalation procMount seccompProfile:SeccompProfile "
                       "appArmorProfile:SeccompProfile",
    "Capabilities": "add drop",
    "SeccompProfile": "type localhostProfile",
    "PodSecurityContext": "seLinuxOptions windowsOptions runAsUser runAsGroup runAsNonRoot "
                          "supplementalGroups supplementalGroupsPolicy fsGroup sysctls "
                          "fsGroupChangePolicy seccompProfile:SeccompProfile "
                          "appArmorProfile:SeccompProfile seLinuxChangePolicy",
    "Toleration": "key? operator? value? effect? tolerationSeconds",
    "Volume": "name hostPath:HostPathVolumeSource emptyDir:EmptyDirVolumeSource "
              "gcePersistentDisk awsElasticBlockStore gitRepo secret:SecretVolumeSource nfs "
              "iscsi glusterfs persistentVolumeClaim:PVCVolumeSource rbd flexVolume cinder "
              "cephfs flocker downwardAPI:DownwardAPIVolumeSource fc azureFile "
              "configMap:ConfigMapVolumeSource vsphereVolume quobyte azureDisk "
              "photonPersistentDisk projected:ProjectedVolumeSource portworxVolume scaleIO "
              "storageos csi ephemeral image",
    "HostPathVolumeSource": "path type",
    "EmptyDirVolumeSource": "medium? sizeLimit",
    "SecretVolumeSource": "secretName? items:[]KeyToPath defaultMode optional",
    "ConfigMapVolumeSource": "name? items:[]KeyToPath defaultMode optional",
    "KeyToPath": "key path mode",
    "PVCVolumeSource": "claimName readOnly?",
    "DownwardAPIVolumeSource": "items:[]DownwardAPIVolumeFile defaultMode",
    "DownwardAPIVolumeFile": "path fieldRef:ObjectFieldSelector resourceFieldRef mode",
    "ProjectedVolumeSource": "sources:[]VolumeProjection defaultMode",
    "VolumeProjection": "secret:SecretProjection downwardAPI:DownwardAPIProjection "
                        "configMap:SecretProjection serviceAccountToken:SATokenProjection "
                        "clusterTrustBundle podCertificate",
    "SecretProjection": "name? items:[]KeyToPath optional",
    "DownwardAPIProjection": "items:[]DownwardAPIVolumeFile",
    "SATokenProjection": "audience? expirationSeconds path",
    "PodTemplateSpec": "metadata:ObjectMeta! spec:PodSpec!",
    # workloads
    "DeploymentSpec": "replicas selector:LabelSelector template:PodTemplateSpec! "
                      "strategy:DeploymentStrategy! minReadySeconds? revisionHistoryLimit "
                      "paused? progressDeadlineSeconds",
    "DeploymentStrategy": "type? rollingUpdate:RollingUpdate",
    "RollingUpdate": "partition maxUnavailable maxSurge",
    "ReplicaSetSpec": "replicas minReadySeconds? selector:LabelSelector "
                      "template:PodTemplateSpec!",
    "ReplicationControllerSpec": "replicas minReadySeconds? selector:map "
                                 "template:PodTemplateSpec",
    "DaemonSetSpec": "selector:LabelSelector template:PodTemplateSpec! "
                     "updateStrategy:DeploymentStrategy! minReadySeconds? revisionHistoryLimit",
    "StatefulSetSpec": "replicas selector:LabelSelector template:PodTemplateSpec! "
                       "volumeClaimTemplates:[]PersistentVolumeClaim serviceName? "
                       "podManagementPolicy? updateStrategy:DeploymentStrategy! "
                       "revisionHistoryLimit minReadySeconds? "
                       "persistentVolumeClaimRetentionPolicy:PVCRetentionPolicy ordinals",
    "PVCRetentionPolicy": "whenDeleted? whenScaled?",
    "PersistentVolumeClaim": "kind apiVersion metadata:ObjectMeta! spec:PVCSpec! status",
    "PVCSpec": "accessModes selector:LabelSelector resources:ResourceRequirements! "
               "volumeName? storageClassName volumeMode dataSource dataSourceRef "
               "volumeAttributesClassName",
    "JobSpec": "parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy "
               "backoffLimit backoffLimitPerIndex maxFailedIndexes selector:LabelSelector "
               "manualSelector template:PodTemplateSpec! ttlSecondsAfterFinished "
               "completionMode suspend podReplacementPolicy managedBy",
    "CronJobSpec": "schedule timeZone startingDeadlineSeconds concurrencyPolicy? suspend "
                   "jobTemplate:JobTemplateSpec! successfulJobsHistoryLimit "
                   "failedJobsHistoryLimit",
    "JobTemplateSpec": "metadata:ObjectMeta! spec:JobSpec!",
    # services and networking
    "ServiceSpec": "ports:[]ServicePort selector:map clusterIP? clusterIPs type? externalIPs "
                   "sessionAffinity? loadBalancerIP? loadBalancerSourceRanges externalName? "
                   "externalTrafficPolicy? healthCheckNodePort? publishNotReadyAddresses? "
                   "sessionAffinityConfig ipFamilies ipFamilyPolicy "
                   "allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy "
                   "trafficDistribution",
    "ServicePort": "name? protocol? appProtocol port targetPort nodePort?",
    "IngressSpec": "ingressClassName defaultBackend:IngressBackend tls:[]IngressTLS "
                   "rules:[]IngressRule",
    "IngressTLS": "hosts secretName?",
    "IngressRule": "host? http:HTTPIngressRuleValue",
    "HTTPIngressRuleValue": "paths:[]HTTPIngressPath",
    "HTTPIngressPath": "path? pathType backend:IngressBackend!",
    "IngressBackend": "service:IngressServiceBackend resource",
    "IngressServiceBackend": "name port:ServiceBackendPort!",
    "ServiceBackendPort": "name? number?",
    "NetworkPolicySpec": "podSelector:LabelSelector! ingress:[]NetworkPolicyIngressRule "
                         "egress:[]NetworkPolicyEgressRule policyTypes",
    "NetworkPolicyIngressRule": "ports:[]NetworkPolicyPort from:[]NetworkPolicyPeer",
    "NetworkPolicyEgressRule": "ports:[]NetworkPolicyPort to:[]NetworkPolicyPeer",
    "NetworkPolicyPort": "protocol port endPort",
    "NetworkPolicyPeer": "podSelector:LabelSelector namespaceSelector:LabelSelector ipBlock",
    # rbac
    "PolicyRule": "verbs apiGroups resources resourceNames nonResourceURLs",
    "AggregationRule": "clusterRoleSelectors:[]LabelSelector",
    "Subject": "kind apiGroup? name namespace?",
    "RoleRef": "apiGroup kind name",
    # cluster
    "NamespaceSpec": "finalizers",
    "NodeSpec": "podCIDR? podCIDRs providerID? unschedulable? taints:[]Taint configSource "
                "externalID?",
    "Taint": "key value? effect timeAdded",
    "LeaseSpec": "holderIdentity leaseDurationSeconds acquireTime renewTime leaseTransitions "
                 "strategy preferredHolder",
    "TokenRequestSpec": "audiences expirationSeconds boundObjectRef:BoundObjectReference",
    "BoundObjectReference": "kind? apiVersion? name? uid?",
    "TokenRequestStatus": "token expirationTimestamp!",
    # top-level kinds
    "Pod": "kind apiVersion metadata:ObjectMeta! spec:PodSpec! status",
    "Deployment": "kind apiVersion metadata:ObjectMeta! spec:DeploymentSpec! status:{}!",
    "ReplicaSet": "kind apiVersion metadata:ObjectMeta! spec:ReplicaSetSpec! status:{}!",
    "ReplicationController": "kind apiVersion metadata:ObjectMeta! "
                             "spec:ReplicationControllerSpec! status:{}!",
    "DaemonSet": "kind apiVersion metadata:ObjectMeta! spec:DaemonSetSpec! status:{}!",
    "StatefulSet": "kind apiVersion metadata:ObjectMeta! spec:StatefulSetSpec! status:{}!",
    "Job": "kind apiVersion metadata:ObjectMeta! spec:JobSpec! status:{}!",
    "CronJob": "kind apiVersion metadata:ObjectMeta! spec:CronJobSpec! status:{}!",
    "Service": "kind apiVersion metadata:ObjectMeta! spec:ServiceSpec! status:{}!",
    "ConfigMap": "kind apiVersion metadata:ObjectMeta! immutable data:map binaryData:map",
    "Secret": "kind apiVersion metadata:ObjectMeta! immutable data:map stringData:map type?",
    "ServiceAccount": "kind apiVersion metadata:ObjectMeta! secrets "
                      "imagePullSecrets:[]LocalObjectReference automountServiceAccountToken",
    "Namespace": "kind apiVersion metadata:ObjectMeta! spec:NamespaceSpec! status:{}!",
    "Node": "kind apiVersion metadata:ObjectMeta! spec:NodeSpec! status:{}!",
    "ClusterRole": "kind apiVersion metadata:ObjectMeta! rules:[]PolicyRule "
                   "aggregationRule:AggregationRule",
    "Role": "kind apiVersion metadata:ObjectMeta! rules:[]PolicyRule",
    "ClusterRoleBinding": "kind apiVersion metadata:ObjectMeta! subjects:[]Subject "
                          "roleRef:RoleRef!",
    "RoleBinding": "kind apiVersion metadata:ObjectMeta! subjects:[]Subject roleRef:RoleRef!",
    "Ingress": "kind apiVersion metadata:ObjectMeta! spec:IngressSpec! status:{}!",
    "NetworkPolicy": "kind apiVersion metadata:ObjectMeta! spec:NetworkPolicySpec!",
    "Lease": "kind apiVersion metadata:ObjectMeta! spec:LeaseSpec!",
    "TokenRequest": "kind apiVersion metadata:ObjectMeta! spec:TokenRequestSpec! "
                    "status:TokenRequestStatus!",
    # CONNECT options (the object of a CONNECT request)
    "PodExecOptions": "kind apiVersion stdin? stdout? stderr? tty? container? command",
    "PodAttachOptions": "kind apiVersion stdin? stdout? stderr? tty? container?",
    "PodPortForwardOptions": "kind apiVersion ports",
    "PodProxyOptions": "kind apiVersion path?",
    "NodeProxyOptions": "kind apiVersion path?",
    "ServiceProxyOptions": "kind apiVersion path?",
}


def _parse_schema(src):
    out = {}
    for name, text in src.items():
        fields = []
        for tok in text.split():
            f, _, typ = tok.partition(":")
            flag = ""
            if typ.endswith("!") or f.endswith("!"):
                flag = "!"
            if f.endswith("?"):
                flag = "?"
            fields.append((f.rstrip("?!"), typ.rstrip("!"), flag))
        out[name] = fields
    return out


SCHEMA = _parse_schema(SCHEMA_SRC)

# The schema and the builders of part 1 must agree on the Go struct order.
for _s, _o in (("PodSpec", "podSpec"), ("Container", "container"), ("ContainerPort", "cport"),
               ("VolumeMount", "vmount"), ("Toleration", "toleration"),
               ("Capabilities", "caps"), ("ServicePort", "svcPort"), ("Subject", "subject"),
               ("PolicyRule", "rule"), ("OwnerReference", "ownerRef")):
    assert [f for f, _, _ in SCHEMA[_s]] == ORDER[_o], (_s, _o)
assert [f for f, _, _ in SCHEMA["ObjectMeta"]] == ORDER["meta"]


class ManifestError(ValueError):
    pass


def _zero(v):
    return v is None or v is False or v == 0 and not isinstance(v, bool) or v == ""


def normalize(value, typ, path="$"):
    """Re-order `value` as Go serialises type `typ`, dropping what Go omits."""
    if typ in ("", "{}"):
        return copy.deepcopy(value)
    if typ == "map":
        if not isinstance(value, dict):
            raise ManifestError(f"{path}: expected a map, got {type(value).__name__}")
        return {k: copy.deepcopy(value[k]) for k in sorted(value)}
    if typ.startswith("[]"):
        if not isinstance(value, list):
            raise ManifestError(f"{path}: expected a list, got {type(value).__name__}")
        return [normalize(x, typ[2:], f"{path}[{i}]") for i, x in enumerate(value)]
    fields = SCHEMA[typ]
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: expected a {typ} object, got {type(value).__name__}")
    known = {f for f, _, _ in fields}
    unknown = [k for k in value if k not in known]
    if unknown:
        raise ManifestError(f"{path}: unknown field(s) {unknown} of {typ} "
                            "(extend SCHEMA_SRC in testing/apiserver.py)")
    out = {}
    for f, ftyp, flag in fields:
        if f not in value:
            if flag == "!":
                out[f] = normalize({}, ftyp, f"{path}.{f}") if ftyp else None  # Time: null
            continue
        v = value[f]
        if flag == "?" and _zero(v):
            continue
        if v is None and flag != "!":
            continue
        if isinstance(v, (dict, list)) and not v and ftyp in ("map", "", "{}") and flag != "!":
            continue  # empty Go maps and slices with omitempty
        if isinstance(v, list) and not v and ftyp.startswith("[]"):
            continue
        out[f] = normalize(v, ftyp, f"{path}.{f}") if v is not None else None
    return out


# --------------------------------------------------------------------------
# kinds: group, resource, scope, and what the registry adds
# --------------------------------------------------------------------------
# kind -> (group, resource, namespaced, has metadata.generation)
KINDS = {
    "Pod": ("", "pods", True, False),
    "PodTemplate": ("", "podtemplates", True, False),
    "ReplicationController": ("", "replicationcontrollers", True, True),
    "Service": ("", "services", True, False),
    "ConfigMap": ("", "configmaps", True, False),
    "Secret": ("", "secrets", True, False),
    "ServiceAccount": ("", "serviceaccounts", True, False),
    "Namespace": ("", "namespaces", False, False),
    "Node": ("", "nodes", False, False),
    "Deployment": ("apps", "deployments", True, True),
    "ReplicaSet": ("apps", "replicasets", True, True),
    "DaemonSet": ("apps", "daemonsets", True, True),
    "StatefulSet": ("apps", "statefulsets", True, True),
    "Job": ("batch", "jobs", True, True),
    "CronJob": ("batch", "cronjobs", True, True),
    "ClusterRole": ("rbac.authorization.k8s.io", "clusterroles", False, False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "clusterrolebindings", False, False),
    "Role": ("rbac.authorization.k8s.io", "roles", True, False),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings", True, False),
    "Ingress": ("networking.k8s.io", "ingresses", True, True),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies", True, True),
    "Lease": ("coordination.k8s.io", "leases", True, False),
    # subresource objects: serviceaccounts/token
    "TokenRequest": ("authentication.k8s.io", "serviceaccounts", True, False),
}

# CONNECT: the options kind decides the resource and subresource
CONNECT_KINDS = {
    "PodExecOptions": ("pods", "exec"),
    "PodAttachOptions": ("pods", "attach"),
    "PodPortForwardOptions": ("pods", "portforward"),
    "PodProxyOptions": ("pods", "proxy"),
    "NodeProxyOptions": ("nodes", "proxy"),
    "ServiceProxyOptions": ("services", "proxy"),
}

WORKLOAD_TEMPLATE = {  # kind -> path of the PodTemplateSpec inside the object
    "Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"), "StatefulSet": ("spec", "template"),
    "Job": ("spec", "template"), "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
RBAC_GROUP = "rbac.authorization.k8s.io"


def split_api_version(api_version):
    g, _, v = api_version.rpartition("/")
    return g, v


def obj_uid(kind, ns, name):
    """The metadata.uid of an object: the same object has the same uid in every file."""
    return uid(f"fixture-object:{kind}/{ns or ''}/{name}")


def go_last_applied(manifest):
    """kubectl's last-applied annotation: json.Marshal (sorted keys, HTML-safe) + \\n."""
    s = json.dumps(manifest, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            + "\n")


# --------------------------------------------------------------------------
# defaulting (SetDefaults_*), on plain dicts before normalisation
# --------------------------------------------------------------------------

def _quantities(rl):
    return {k: str(v) for k, v in rl.items()} if isinstance(rl, dict) else rl


def _default_probe(p):
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")


def _default_container(c, is_pod):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if "image" in c:
        c.setdefault("imagePullPolicy", pull_policy(c["image"]))
    res = c.setdefault("resources", {})
    for k in ("limits", "requests"):
        if k in res:
            res[k] = _quantities(res[k])
    if is_pod and res.get("limits"):
        req = res.setdefault("requests", {})
        for k, v in res["limits"].items():
            req.setdefault(k, v)
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        fr = (e.get("valueFrom") or {}).get("fieldRef")
        if isinstance(fr, dict):
            fr.setdefault("apiVersion", "v1")
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(k))


def _default_items_fieldref(items):
    for it in items or []:
        if isinstance(it.get("fieldRef"), dict):
            it["fieldRef"].setdefault("apiVersion", "v1")


def _default_volume(v):
    if isinstance(v.get("hostPath"), dict):
        v["hostPath"].setdefault("type", "")
    for k in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(v.get(k), dict):
            v[k].setdefault("defaultMode", 420)
    if isinstance(v.get("downwardAPI"), dict):
        _default_items_fieldref(v["downwardAPI"].get("items"))
    if isinstance(v.get("projected"), dict):
        for src in v["projected"].get("sources") or []:
            if isinstance(src.get("serviceAccountToken"), dict):
                src["serviceAccountToken"].setdefault("expirationSeconds", 3600)
            if isinstance(src.get("downwardAPI"), dict):
                _default_items_fieldref(src["downwardAPI"].get("items"))


def default_podspec(spec, is_pod):
    """SetDefaults_PodSpec (+ SetDefaults_Pod when is_pod: enableServiceLinks, requests
    from limits, hostPort = containerPort under hostNetwork; templates get none of those)."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    # the deprecated serviceAccount mirrors serviceAccountName (conversion)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for fam in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(fam) or []:
            _default_container(c, is_pod)
    for v in spec.get("volumes") or []:
        _default_volume(v)
    if is_pod:
        spec.setdefault("enableServiceLinks", True)
        if spec.get("hostNetwork"):
            for fam in ("initContainers", "containers"):
                for c in spec.get(fam) or []:
                    for p in c.get("ports") or []:
                        p.setdefault("hostPort", p["containerPort"])


def _default_template(tpl):
    tpl.setdefault("metadata", {})
    tpl["metadata"].setdefault("creationTimestamp", None)
    default_podspec(tpl.setdefault("spec", {}), is_pod=False)


def _dig(obj, path):
    for p in path:
        obj = obj.setdefault(p, {})
    return obj


def default_object(obj):
    """SetDefaults_<Kind> of the object's kind, in place."""
    kind = obj["kind"]
    spec = obj.get("spec")
    if kind == "Pod":
        default_podspec(obj.setdefault("spec", {}), is_pod=True)
    if kind in WORKLOAD_TEMPLATE:
        _default_template(_dig(obj, WORKLOAD_TEMPLATE[kind]))
        spec = obj["spec"]
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        st = spec.setdefault("strategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "ReplicaSet":
        spec.setdefault("replicas", 1)
    elif kind == "ReplicationController":
        spec.setdefault("replicas", 1)
        labels = spec["template"]["metadata"].get("labels") or {}
        spec.setdefault("selector", dict(labels))
        md = obj.setdefault("metadata", {})
        if not md.get("labels"):
            md["labels"] = dict(labels)
    elif kind == "DaemonSet":
        st = spec.setdefault("updateStrategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            ru = st.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        st = spec.setdefault("updateStrategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            st.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        pol = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        pol.setdefault("whenDeleted", "Retain")
        pol.setdefault("whenScaled", "Retain")
        for pvc in spec.get("volumeClaimTemplates") or []:
            pvc.setdefault("kind", "PersistentVolumeClaim")
            pvc.setdefault("apiVersion", "v1")
            pvc.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            pvc.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            pvc.setdefault("status", {"phase": "Pending"})
    elif kind == "Job":
        if "completions" not in spec and "parallelism" not in spec:
            spec["completions"] = 1
            spec["parallelism"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        if "podFailurePolicy" not in spec:
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    elif kind == "CronJob":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        spec["jobTemplate"].setdefault("metadata", {}).setdefault("creationTimestamp", None)
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p["port"])
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        if obj.get("stringData"):
            # Convert_v1_Secret_To_core_Secret: stringData is merged into data
            import base64
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind == "Namespace":
        md = obj.setdefault("metadata", {})
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
    elif kind in ("ClusterRoleBinding", "RoleBinding"):
        for s in obj.get("subjects") or []:
            if s.get("kind") in ("User", "Group"):
                s.setdefault("apiGroup", RBAC_GROUP)
    elif kind == "NetworkPolicy":
        if "policyTypes" not in spec:
            spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
        for r in (spec.get("ingress") or []) + (spec.get("egress") or []):
            for p in r.get("ports") or []:
                p.setdefault("protocol", "TCP")
    elif kind == "TokenRequest":
        spec = obj.setdefault("spec", {})
        spec.setdefault("expirationSeconds", 3600)
        if not spec.get("audiences"):
            spec["audiences"] = ["https://kubernetes.default.svc"]  # the API audiences
        obj["status"] = {"token": "", "expirationTimestamp": None}
    return obj


# --------------------------------------------------------------------------
# the registry: PrepareForCreate / BeginCreate, then mutating admission
# --------------------------------------------------------------------------
SERVICE_ALLOCATED = ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy")


def _h(label, mod):
    return int(hashlib.sha256(label.encode()).hexdigest(), 16) % mod


def prepare_for_create(obj):
    """Registry strategy: status reset and the generated Job selector."""
    kind = obj["kind"]
    if kind == "Job":
        md = obj["metadata"]
        juid = md["uid"]
        tpl_md = obj["spec"]["template"].setdefault("metadata", {})
        labels = dict(tpl_md.get("labels") or {})
        labels.update({"batch.kubernetes.io/controller-uid": juid,
                       "batch.kubernetes.io/job-name": md["name"],
                       "controller-uid": juid, "job-name": md["name"]})
        tpl_md["labels"] = labels
        if not obj["spec"].get("manualSelector"):
            obj["spec"]["selector"] = {
                "matchLabels": {"batch.kubernetes.io/controller-uid": juid}}
        if not md.get("labels"):
            md["labels"] = dict(labels)
    if kind == "DaemonSet":
        ann = obj["metadata"].setdefault("annotations", {})
        ann.setdefault("deprecated.daemonset.template.generation", "1")
    status = {
        "Deployment": {}, "ReplicaSet": {"replicas": 0},
        "ReplicationController": {"replicas": 0}, "Job": {}, "CronJob": {},
        "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                      "desiredNumberScheduled": 0, "numberReady": 0},
        "StatefulSet": {"replicas": 0, "availableReplicas": 0},
        "Service": {"loadBalancer": {}}, "Ingress": {"loadBalancer": {}},
        "Namespace": {"phase": "Active"},
    }.get(kind)
    if status is not None:
        obj["status"] = status
    if kind == "Namespace":
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]


def allocate_service(obj):
    """BeginCreate of Services: a ClusterIP from 10.96.0.0/12, nodePorts from
    30000-32767 (deterministic per service)."""
    spec = obj["spec"]
    key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
    if spec["type"] != "ExternalName":
        if spec.get("clusterIP") != "None":
            n = _h("svc-ip:" + key, 250 * 250)
            spec.setdefault("clusterIP", f"10.96.{1 + n // 250}.{1 + n % 250}")
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        for p in spec.get("ports") or []:
            if not p.get("nodePort"):
                p["nodePort"] = 30000 + _h(f"nodeport:{key}:{p['port']}", 2768)


def qos_class(spec):
    """Pod QoS: Guaranteed when every container has cpu and memory limits equal to its
    requests, BestEffort when none sets any, else Burstable."""
    any_set, guaranteed = False, True
    for fam in ("initContainers", "containers"):
        for c in spec.get(fam) or []:
            res = c.get("resources") or {}
            lim, req = res.get("limits") or {}, res.get("requests") or {}
            if lim or req:
                any_set = True
            for r in ("cpu", "memory"):
                if r not in lim or req.get(r, lim[r]) != lim[r]:
                    guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def subst(value, sec):
    """Placeholders in manifests: "${uid:Kind/ns/name}" is that object's uid (for
    ownerReferences), "${time:+N}" / "${time:-N.ffffff}" a timestamp N seconds from the
    request (for Leases and Node conditions)."""
    import re
    if isinstance(value, dict):
        return {k: subst(v, sec) for k, v in value.items()}
    if isinstance(value, list):
        return [subst(v, sec) for v in value]
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        m = re.fullmatch(r"\$\{uid:([^/}]+)/([^/}]*)/([^/}]+)\}", value)
        if m:
            return obj_uid(m.group(1), m.group(2) or None, m.group(3))
        m = re.fullmatch(r"\$\{time:([+-]\d+)(\.\d+)?\}", value)
        if m:
            ts = t(sec + int(m.group(1)))
            return ts[:-1] + (m.group(2) or "") + "Z"
        raise ManifestError(f"unknown placeholder {value}")
    return value


def admit_create(manifest, sec, manager=None, operation="Update", last_applied=False,
                 name_label=""):
    """A manifest as the apiserver hands it to a validating webhook on CREATE:
    defaulted, uid/creationTimestamp/generation filled, generateName resolved, status
    reset, Service IPs allocated, managedFields of `manager` (computed before mutating
    admission, as the fieldmanager does), then the Pod admission plugins.

    The manifest must already carry its final name and namespace. Returns the object.
    """
    m = subst(copy.deepcopy(manifest), sec)
    kind = m.get("kind")
    if kind not in KINDS:
        raise ManifestError(f"kind {kind!r} is not known to testing/apiserver.py (KINDS)")
    if kind == "TokenRequest":  # a subresource request body: defaulted, never stored
        return normalize(default_object(m), kind)
    group, resource, namespaced, has_gen = KINDS[kind]
    md = m.setdefault("metadata", {})
    applied = copy.deepcopy(m)  # what the client sent (server-side apply owns exactly this)
    if last_applied:
        la = copy.deepcopy(m)
        la_md = la["metadata"]
        la_md["annotations"] = {k: v for k, v in (la_md.get("annotations") or {}).items()
                                if k != LAST_APPLIED}
        ann = md.setdefault("annotations", {})
        ann[LAST_APPLIED] = go_last_applied(la)
    obj = default_object(m)
    md = obj["metadata"]
    if md.get("generateName") and not md.get("name"):
        md["name"] = md["generateName"] + suffix("generate:" + name_label)
    md["uid"] = obj_uid(kind, md.get("namespace"), md["name"])
    md["creationTimestamp"] = t(sec)
    if has_gen:
        md["generation"] = 1
    # the handler's fieldmanager records the decoded, defaulted object: before the
    # registry's PrepareForCreate (status reset, Job selector, Namespace finalizers,
    # DaemonSet template generation) and before Service IP allocation
    mfields = None
    if manager:
        if operation == "Apply":
            view = owned_view(applied)
        else:
            view = owned_view(normalize(obj, kind), drop_status=(kind != "Node"))
        mfields = [mf(manager, operation, m["apiVersion"], sec, view)]
    prepare_for_create(obj)
    obj = normalize(obj, kind)
    if mfields:
        obj["metadata"]["managedFields"] = mfields
    if kind == "Service":
        allocate_service(obj)
    if kind == "Pod":
        obj["spec"] = pod_admission(obj["spec"], md["name"])
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj["spec"])}
    return normalize(obj, kind)


def resource_version(label):
    return str(40000 + _h("rv:" + label, 20000))


def settle(obj, sec_created, sec_now):
    """The object as stored some time after its creation (the oldObject of an UPDATE
    or DELETE): a resourceVersion, and for Pods and Deployments the state their
    controllers and the kubelet reported."""
    obj = copy.deepcopy(obj)
    kind, md = obj["kind"], obj["metadata"]
    key = f"{kind}/{md.get('namespace')}/{md['name']}"
    rv = resource_version(key)
    md["resourceVersion"] = rv
    if kind == "Pod":
        node = ("worker-1", "worker-2")[_h("node:" + key, 2)]
        subnet = {"worker-1": 1, "worker-2": 2}[node]
        ip = f"10.244.{subnet}.{2 + _h('ip:' + key, 250)}"
        obj = running(obj, node, ip, sec_created, sec_now, rv, {})
    elif kind == "Deployment":
        rs_name = f"{md['name']}-{suffix('pod-template-hash:' + key, 10)}"
        ann = dict(md.get("annotations") or {})
        ann["deployment.kubernetes.io/revision"] = "1"
        md["annotations"] = M(ann)
        obj["status"] = dep_status(1, obj["spec"]["replicas"], rs_name, sec_created,
                                   sec_now - 60)
        md.setdefault("managedFields", [])
        md["managedFields"] += [
            mf("kube-controller-manager", "Update", obj["apiVersion"], sec_created,
               {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}}}),
            mf("kube-controller-manager", "Update", obj["apiVersion"], sec_now - 60,
               owned_view({"status": obj["status"]}, drop_status=False),
               subresource="status")]
    return normalize(obj, kind)


def _diff(old, new):
    """The parts of `new` that differ from `old` (whole lists; for managedFields)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: (_diff(old[k], v) if k in old else v)
                for k, v in new.items() if k not in old or old[k] != v}
    return new


def admit_update(old, new_created, sec, manager=None, operation="Update", subresource=None):
    """The new object of an UPDATE: `new_created` (the manifest as admit_create made it)
    merged onto the stored `old` the way a patch/update does: uid, creationTimestamp,
    resourceVersion and status kept; labels and annotations merged; generation bumped
    when the spec changed; managedFields of `manager` updated. A Pod UPDATE on the
    ephemeralcontainers subresource only adds the new ephemeral containers."""
    kind = old["kind"]
    if kind == "Pod":
        if subresource != "ephemeralcontainers":
            raise ManifestError("Pod UPDATE is only modelled for the ephemeralcontainers "
                                "subresource (kubectl debug)")
        new = copy.deepcopy(old)
        eph = new_created["spec"].get("ephemeralContainers") or []
        if not eph:
            raise ManifestError("kubectl debug manifest without spec.ephemeralContainers")
        new["spec"]["ephemeralContainers"] = (old["spec"].get("ephemeralContainers") or []) \
            + [c for c in eph if c["name"] not in
               {x["name"] for x in old["spec"].get("ephemeralContainers") or []}]
        if manager:
            new["metadata"].setdefault("managedFields", []).append(
                mf(manager, operation, "v1", sec,
                   {"spec": {"ephemeralContainers": new["spec"]["ephemeralContainers"]}},
                   subresource="ephemeralcontainers"))
        return normalize(new, kind)
    if subresource:
        raise ManifestError(f"UPDATE of {kind} subresource {subresource} is not modelled")
    new = copy.deepcopy(new_created)
    md, omd = new["metadata"], old["metadata"]
    for k in ("uid", "creationTimestamp", "resourceVersion"):
        if k in omd:
            md[k] = omd[k]
        else:
            md.pop(k, None)
    for k in ("labels", "annotations"):
        merged = {kk: vv for kk, vv in (omd.get(k) or {}).items() if kk != LAST_APPLIED}
        merged.update(md.get(k) or {})
        if merged:
            md[k] = M(merged)
    if "ownerReferences" in omd and "ownerReferences" not in md:
        md["ownerReferences"] = omd["ownerReferences"]
    if "generation" in omd:
        changed = any(new.get(k) != old.get(k) for k in ("spec",))
        md["generation"] = omd["generation"] + (1 if changed else 0)
        if kind == "DaemonSet" and changed:
            ann = dict(md["annotations"])
            ann["deprecated.daemonset.template.generation"] = str(
                int(omd["annotations"]["deprecated.daemonset.template.generation"]) + 1)
            md["annotations"] = M(ann)
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    if kind == "Service":
        for k in SERVICE_ALLOCATED:
            if k in old["spec"]:
                new["spec"][k] = old["spec"][k]
        for p, op in zip(new["spec"].get("ports") or [], old["spec"].get("ports") or []):
            if "nodePort" in op and p.get("port") == op.get("port"):
                p["nodePort"] = op["nodePort"]
    mfs = copy.deepcopy(omd.get("managedFields") or [])
    if manager:
        mine = [i for i, e in enumerate(mfs) if e["manager"] == manager
                and e["operation"] == operation and "subresource" not in e]
        if mine:
            view = owned_view(new_created, drop_status=(kind != "Node"))
            mfs[mine[0]] = mf(manager, operation, new["apiVersion"], sec, view)
        else:
            d = _diff(owned_view(old, drop_status=(kind != "Node")),
                      owned_view(new, drop_status=(kind != "Node")))
            mfs.append(mf(manager, operation, new["apiVersion"], sec, d))
    if mfs:
        md["managedFields"] = mfs
    else:
        md.pop("managedFields", None)
    return normalize(new, kind)
