#!/usr/bin/env python3
"""Generate realistic kube-audit-rest capture files (AdmissionReview JSONL) for
the k8sadmission Falco plugin tests.

Outputs (in test_files/ next to this testing/ folder unless OUT_DIR is given as argv[1]):
  kube_audit_rest_sample.jsonl  realistic admission.k8s.io/v1 reviews
  edge_cases.jsonl              parser stress lines (framing-valid)
  malformed_lines.jsonl         valid reviews mixed with broken lines

Everything is deterministic (uids derived from names, fixed timestamps).

Realism notes (what the kube-apiserver does before calling a *validating*
webhook, which is where kube-audit-rest sits):
  * struct fields are serialised in Go struct order, Go maps (labels,
    annotations, data, userInfo.extra, ...) with sorted keys;
  * Go's encoder escapes <, > and & as \\u003c, \\u003e, \\u0026;
  * metadata.uid and creationTimestamp are already filled (BeforeCreate runs
    before createValidation), generateName is resolved, Service clusterIP and
    nodePorts are allocated (BeginCreate), pods have status Pending/qosClass;
  * defaulting applied (imagePullPolicy, terminationMessage*, dnsPolicy, ...),
    admission plugins applied to Pods only (ServiceAccount projected volume,
    DefaultTolerationSeconds, Priority), never to pod templates;
  * Pods with hostNetwork get hostPort defaulted to containerPort; pod
    templates do not (since 1.28, DefaultHostNetworkHostPortsInPodTemplates);
  * managedFields reflect the defaulted object before mutating admission.

The shared apiserver behaviour (ids, Go struct order and JSON, defaulting, Pod
admission plugins, the review envelope, file checks) lives in testing/apiserver.py,
which testing/generate_fixtures.py uses as well.
"""
import copy
import os
import sys

from apiserver import *  # noqa: F401,F403  (the shared apiserver behaviour)
from apiserver import ORDER, check_file, go_json  # noqa: F401  (named, for readers)

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test_files")


def sample_lines():
    L = []  # (review, note)
    sec = 903  # 10:15:03

    def add(rv, note):
        L.append((rv, note))

    def nxt(step=7):
        nonlocal sec
        sec += step
        return sec

    # ---- 1. plain nginx pod (kubectl run nginx --image=nginx) -----------
    s = sec
    nginx_spec = podspec([container("nginx", "nginx")])
    nginx = make_pod("nginx", "default", nginx_spec, s, "kubectl-run",
                     labels={"run": "nginx"})
    add(review("nginx-create", CORE_POD, PODS, "CREATE", ALICE, "nginx", "default",
               nginx, options=create_opts("kubectl-run"), ts=ts_for(0, s)),
        "plain nginx pod, no securityContext")

    # ---- 2. privileged pod via kubectl apply ----------------------------
    s = nxt()
    priv_manifest = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"annotations": {}, "labels": {"app": "priv-debug"},
                     "name": "priv-debug", "namespace": "default"},
        "spec": {"hostNetwork": True, "hostPID": True, "hostIPC": True,
                 "securityContext": {"runAsUser": 0, "runAsGroup": 0, "fsGroup": 2000,
                                     "supplementalGroups": [1000, 3000]},
                 "containers": [{"name": "shell", "image": "ubuntu:22.04",
                                 "command": ["sleep", "infinity"],
                                 "ports": [{"containerPort": 8080}],
                                 "securityContext": {
                                     "privileged": True, "allowPrivilegeEscalation": True,
                                     "procMount": "Default",
                                     "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}},
                                 "volumeMounts": [
                                     {"name": "host-root", "mountPath": "/host", "readOnly": True},
                                     {"name": "docker-sock", "mountPath": "/var/run/docker.sock"}]}],
                 "volumes": [{"name": "host-root", "hostPath": {"path": "/"}},
                             {"name": "docker-sock",
                              "hostPath": {"path": "/var/run/docker.sock"}}]}}

    def priv_spec():
        return podspec(
            [container("shell", "ubuntu:22.04", command=["sleep", "infinity"],
                       ports=[cport(8080)],
                       mounts=[vmount("host-root", "/host", True),
                               vmount("docker-sock", "/var/run/docker.sock")],
                       security=sc(capabilities={"add": ["NET_ADMIN", "SYS_ADMIN"]},
                                   privileged=True, allowPrivilegeEscalation=True,
                                   procMount="Default"))],
            volumes=[hostpath_vol("host-root", "/"),
                     hostpath_vol("docker-sock", "/var/run/docker.sock")],
            host_network=True, host_pid=True, host_ipc=True,
            psc=dict(runAsUser=0, runAsGroup=0, supplementalGroups=[1000, 3000],
                     fsGroup=2000))
    priv = make_pod("priv-debug", "default", priv_spec(), s, "kubectl-client-side-apply",
                    labels={"app": "priv-debug"},
                    annotations={"kubectl.kubernetes.io/last-applied-configuration":
                                 last_applied(priv_manifest)})
    priv_created = s
    add(review("priv-create", CORE_POD, PODS, "CREATE", BOB, "priv-debug", "default",
               priv, options=create_opts("kubectl-client-side-apply"), ts=ts_for(1, s)),
        "privileged, hostNetwork/PID/IPC, caps, hostPath / (ro) + docker.sock (rw), runAsUser 0; hostPort 8080 defaulted from containerPort")

    # ---- 3. pod with initContainers, digests, hostPort 9100 --------------
    s = nxt()
    app_digest = hexd("digest:team/app")
    tool_digest = hexd("digest:org/tool")
    init_spec = podspec(
        [container("app", f"registry.example.com:5000/team/app:1.2.3@sha256:{app_digest}",
                   ports=[cport(9100, 9100, "metrics")],
                   resources={"limits": M({"cpu": "500m", "memory": "256Mi"}),
                              "requests": M({"cpu": "100m", "memory": "128Mi"})},
                   security=sc(runAsUser=1001)),
         container("sidecar", "busybox", command=["sh", "-c", "tail -f /dev/null"]),
         container("tool", f"ghcr.io/org/tool@sha256:{tool_digest}",
                   args=["--serve", "--port=9200"])],
        init=[container("setup-sysctl", "busybox:1.36",
                        command=["sh", "-c", "sysctl -w net.core.somaxconn=1024"],
                        security=sc(privileged=True)),
              container("fetch-config", "alpine:3.20",
                        command=["wget", "-O", "/config/app.yaml",
                                 "http://config.apps.svc/app.yaml"],
                        mounts=[vmount("config", "/config")],
                        security=sc(runAsUser=1000))],
        volumes=[{"name": "config", "emptyDir": {}}],
        psc=dict(runAsUser=2000, runAsGroup=3000))
    init_spec["containers"][0]["volumeMounts"] = [vmount("config", "/etc/app", True)]
    init_spec["containers"][0] = o("container", **init_spec["containers"][0])
    app = make_pod("app-with-init", "apps", init_spec, s, "kubectl-create",
                   labels={"app": "app-with-init", "team": "platform"})
    add(review("app-create", CORE_POD, PODS, "CREATE", CI, "app-with-init", "apps", app,
               options=create_opts("kubectl-create"), ts=ts_for(2, s)),
        "initContainers (privileged; runAsUser 1000), registry:5000 image with tag+digest, busybox, digest-only ghcr image, pod runAsUser 2000/runAsGroup 3000, container runAsUser 1001, hostPort 9100")

    # ---- 4. Deployment in kube-system: hostNetwork + privileged template ---
    s = nxt()
    agent_manifest = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "labels": {"app": "node-agent"},
                     "name": "node-agent", "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "node-agent"}},
                 "template": {"metadata": {"labels": {"app": "node-agent"}},
                              "spec": {"hostNetwork": True,
                                       "priorityClassName": "system-cluster-critical",
                                       "containers": [{
                                           "name": "agent",
                                           "image": "quay.io/acme/node-agent:v0.9.1",
                                           "ports": [{"containerPort": 9090,
                                                      "name": "metrics"}],
                                           "securityContext": {"privileged": True}}]}}}}
    agent_tpl = template({"app": "node-agent"}, podspec(
        [container("agent", "quay.io/acme/node-agent:v0.9.1",
                   ports=[cport(9090, name="metrics")], security=sc(privileged=True))],
        host_network=True, priority_class="system-cluster-critical"))
    dep = deployment("node-agent", "kube-system", agent_tpl, s, 1, {"app": "node-agent"},
                     "kubectl-client-side-apply",
                     annotations={"kubectl.kubernetes.io/last-applied-configuration":
                                  last_applied(agent_manifest)},
                     labels={"app": "node-agent"})
    add(review("agent-deploy", gvk("apps", "v1", "Deployment"),
               gvr("apps", "v1", "deployments"), "CREATE", ADMIN, "node-agent",
               "kube-system", dep, options=create_opts("kubectl-client-side-apply"),
               ts=ts_for(3, s)),
        "Deployment template hostNetwork + privileged; containerPort 9090 without hostPort (templates are not hostPort-defaulted)")

    # ---- 5. DaemonSet with hostPath /etc ---------------------------------
    s = nxt()
    ds_tpl = template({"app": "log-collector"}, podspec(
        [container("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.1.9",
                   resources={"limits": M({"memory": "200Mi"}),
                              "requests": M({"cpu": "50m", "memory": "100Mi"})},
                   mounts=[vmount("host-etc", "/host/etc"),
                           vmount("varlog", "/var/log", True)])],
        volumes=[hostpath_vol("host-etc", "/etc"),
                 hostpath_vol("varlog", "/var/log", "Directory")],
        sa="log-collector", tolerations=[{"operator": "Exists"}]))
    ds_manifest = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                   "metadata": {"annotations": {}, "name": "log-collector",
                                "namespace": "monitoring"}}
    ds_md = meta("log-collector", "monitoring", t(s), generation=1,
                 annotations={"deprecated.daemonset.template.generation": "1",
                              "kubectl.kubernetes.io/last-applied-configuration":
                              last_applied(ds_manifest)})
    ds = o("object", kind="DaemonSet", apiVersion="apps/v1", metadata=ds_md,
           spec=o("dsSpec", selector={"matchLabels": {"app": "log-collector"}},
                  template=ds_tpl,
                  updateStrategy={"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                  revisionHistoryLimit=10))
    ds_md["managedFields"] = [mf("kubectl-client-side-apply", "Update", "apps/v1", s,
                                 owned_view(ds))]
    ds["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                    "desiredNumberScheduled": 0, "numberReady": 0}
    add(review("ds-create", gvk("apps", "v1", "DaemonSet"),
               gvr("apps", "v1", "daemonsets"), "CREATE", CI, "log-collector",
               "monitoring", ds, options=create_opts("kubectl-client-side-apply"),
               ts=ts_for(4, s)),
        "DaemonSet, hostPath /etc mounted writable, /var/log read-only")

    # ---- 6. StatefulSet ---------------------------------------------------
    s = nxt()
    sts_tpl = template({"app": "postgres"}, podspec(
        [container("postgres", "postgres:16.4", ports=[cport(5432, name="pg")],
                   env=[{"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {
                       "name": "db-credentials", "key": "password"}}},
                        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                   mounts=[vmount("pgdata", "/var/lib/postgresql/data")])],
        psc=dict(runAsUser=999, runAsGroup=999, fsGroup=999)))
    sts_md = meta("postgres", "data", t(s), generation=1)
    sts = o("object", kind="StatefulSet", apiVersion="apps/v1", metadata=sts_md,
            spec=o("stsSpec", replicas=1,
                   selector={"matchLabels": {"app": "postgres"}}, template=sts_tpl,
                   volumeClaimTemplates=[{
                       "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                       "metadata": {"name": "pgdata", "creationTimestamp": None},
                       "spec": {"accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "10Gi"}},
                                "volumeMode": "Filesystem"},
                       "status": {"phase": "Pending"}}],
                   serviceName="postgres", podManagementPolicy="OrderedReady",
                   updateStrategy={"type": "RollingUpdate",
                                   "rollingUpdate": {"partition": 0}},
                   revisionHistoryLimit=10,
                   persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain",
                                                         "whenScaled": "Retain"}))
    sts_md["managedFields"] = [mf("kubectl-create", "Update", "apps/v1", s,
                                  owned_view(sts))]
    sts["status"] = {"replicas": 0, "availableReplicas": 0}
    add(review("sts-create", gvk("apps", "v1", "StatefulSet"),
               gvr("apps", "v1", "statefulsets"), "CREATE", ALICE, "postgres", "data",
               sts, options=create_opts("kubectl-create"), ts=ts_for(5, s)),
        "StatefulSet postgres (env from secretKeyRef, volumeClaimTemplates)")

    # ---- 7. Job ------------------------------------------------------------
    s = nxt()
    job_uid = uid("obj:ci/db-migrate")
    job_labels = M({"app": "db-migrate", "batch.kubernetes.io/controller-uid": job_uid,
                    "batch.kubernetes.io/job-name": "db-migrate",
                    "controller-uid": job_uid, "job-name": "db-migrate"})
    job_tpl = template(job_labels, podspec(
        [container("migrate", "registry.example.com:5000/team/migrator:2.4.0",
                   args=["migrate", "--database=postgres://postgres.data.svc:5432/app"])],
        restart="Never"))
    job_md = meta("db-migrate", "ci", t(s), generation=1, labels=job_labels)
    job = o("object", kind="Job", apiVersion="batch/v1", metadata=job_md,
            spec=o("jobSpec", parallelism=1, completions=1, backoffLimit=4,
                   selector={"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
                   manualSelector=None, template=job_tpl, ttlSecondsAfterFinished=600,
                   completionMode="NonIndexed", suspend=False,
                   podReplacementPolicy="TerminatingOrFailed"))
    jv = owned_view(job)
    jv["metadata"]["labels"] = {"app": "db-migrate"}
    jv["spec"].pop("selector")
    jv["spec"]["template"]["metadata"]["labels"] = {"app": "db-migrate"}
    job_md["managedFields"] = [mf("kubectl-create", "Update", "batch/v1", s, jv)]
    job["status"] = {}
    add(review("job-create", gvk("batch", "v1", "Job"), gvr("batch", "v1", "jobs"),
               "CREATE", CI, "db-migrate", "ci", job,
               options=create_opts("kubectl-create"), ts=ts_for(6, s)),
        "Job (generated selector/labels)")

    # ---- 8. CronJob with containerd.sock, privileged -----------------------
    s = nxt()
    cj_tpl = {"metadata": {"creationTimestamp": None}, "spec": podspec(
        [container("cleanup", "alpine:3.20",
                   command=["/bin/sh", "-c",
                            "crictl --runtime-endpoint unix:///run/containerd/containerd.sock rmi --prune && rm -rf /var/lib/containerd/tmpmounts/*"],
                   mounts=[vmount("containerd-sock", "/run/containerd/containerd.sock")],
                   security=sc(privileged=True))],
        volumes=[hostpath_vol("containerd-sock", "/var/run/containerd/containerd.sock",
                              "Socket")],
        restart="OnFailure")}
    cj_md = meta("node-cleanup", "default", t(s), generation=1)
    cj = o("object", kind="CronJob", apiVersion="batch/v1", metadata=cj_md,
           spec=o("cronSpec", schedule="*/30 * * * *", concurrencyPolicy="Forbid",
                  suspend=False,
                  jobTemplate={"metadata": {"creationTimestamp": None},
                               "spec": {"template": cj_tpl}},
                  successfulJobsHistoryLimit=3, failedJobsHistoryLimit=1))
    cj_md["managedFields"] = [mf("kubectl-create", "Update", "batch/v1", s,
                                 owned_view(cj))]
    cj["status"] = {}
    add(review("cj-create", gvk("batch", "v1", "CronJob"),
               gvr("batch", "v1", "cronjobs"), "CREATE", BOB, "node-cleanup", "default",
               cj, options=create_opts("kubectl-create"), ts=ts_for(7, s)),
        "CronJob: privileged, mounts /var/run/containerd/containerd.sock; command has && (Go-escaped \\u0026)")

    # ---- 9. ReplicaSet by deployment-controller ----------------------------
    s = nxt(3)
    web_uid = uid("obj:default/web")
    web_hash = "7d4b9c8f6d"
    web_tpl_spec = podspec(
        [container("web", "nginx:1.27.2", ports=[cport(80, name="http")],
                   resources={"requests": M({"cpu": "100m", "memory": "128Mi"})})])
    rs_tpl = template({"app": "web", "pod-template-hash": web_hash}, web_tpl_spec)
    rs_name = f"web-{web_hash}"
    rs_md = meta(rs_name, "default", t(s), generation=1,
                 labels={"app": "web", "pod-template-hash": web_hash},
                 annotations={"deployment.kubernetes.io/desired-replicas": "2",
                              "deployment.kubernetes.io/max-replicas": "3",
                              "deployment.kubernetes.io/revision": "1"},
                 owner=[o("ownerRef", apiVersion="apps/v1", kind="Deployment", name="web",
                          uid=web_uid, controller=True, blockOwnerDeletion=True)])
    rs = o("object", kind="ReplicaSet", apiVersion="apps/v1", metadata=rs_md,
           spec=o("rsSpec", replicas=2,
                  selector={"matchLabels": M({"app": "web",
                                              "pod-template-hash": web_hash})},
                  template=rs_tpl))
    rs_md["managedFields"] = [mf("kube-controller-manager", "Update", "apps/v1", s,
                                 owned_view(rs))]
    rs["status"] = {"replicas": 0}
    add(review("rs-create", gvk("apps", "v1", "ReplicaSet"),
               gvr("apps", "v1", "replicasets"), "CREATE", DEPLOY_CTRL, rs_name,
               "default", rs, options=create_opts(), ts=ts_for(8, s)),
        "ReplicaSet created by deployment-controller (no fraction in timestamp)")

    # ---- 10. Pod created by replicaset-controller --------------------------
    s = nxt(1)
    web_pod_name = f"{rs_name}-x2k9p"
    web_pod = make_pod(web_pod_name, "default", copy.deepcopy(web_tpl_spec), s,
                       "kube-controller-manager",
                       labels={"app": "web", "pod-template-hash": web_hash},
                       generate_name=rs_name + "-",
                       owner=[o("ownerRef", apiVersion="apps/v1", kind="ReplicaSet",
                                name=rs_name, uid=uid(f"obj:default/{rs_name}"),
                                controller=True, blockOwnerDeletion=True)])
    add(review("webpod-create", CORE_POD, PODS, "CREATE", RS_CTRL, web_pod_name,
               "default", web_pod, options=create_opts(), ts=ts_for(9, s)),
        "Pod from ReplicaSet (generateName resolved, ownerReferences)")

    # ---- 11. kubectl debug: ephemeralcontainers UPDATE ---------------------
    s = nxt(60)
    nginx_run = running(nginx, "worker-1", "10.244.1.23", 903, s, "48213",
                        {"nginx": hexd("nginx-image-id")})
    new = copy.deepcopy(nginx_run)
    eph = container("debugger-abcde", "busybox:1.36", stdin=True, tty=True,
                    target="nginx")
    new["spec"] = o("podSpec", **{**new["spec"], "ephemeralContainers": [eph]})
    new["metadata"]["managedFields"].append(
        mf("kubectl-debug", "Update", "v1", s,
           {"spec": {"ephemeralContainers": [eph]}}, subresource="ephemeralcontainers"))
    add(review("debug-eph", CORE_POD, PODS, "UPDATE", ALICE, "nginx", "default", new,
               old=nginx_run, options=update_opts("kubectl-debug"),
               sub="ephemeralcontainers", ts=ts_for(10, s)),
        "kubectl debug: adds ephemeral container debugger-abcde (target nginx)")

    # ---- 12. Deployment UPDATE adding privileged ----------------------------
    s = nxt()
    web_manifest = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "labels": {"app": "web"}, "name": "web",
                     "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{
                                  "name": "web", "image": "nginx:1.27.2",
                                  "ports": [{"containerPort": 80, "name": "http"}],
                                  "resources": {"requests": {"cpu": "100m",
                                                             "memory": "128Mi"}}}]}}}}
    created_web = 954
    old_dep = deployment("web", "default", template({"app": "web"},
                                                    copy.deepcopy(web_tpl_spec)),
                         created_web, 2, {"app": "web"}, "kubectl-client-side-apply",
                         annotations={"kubectl.kubernetes.io/last-applied-configuration":
                                      last_applied(web_manifest)},
                         labels={"app": "web"})
    old_dep["metadata"] = o("meta", **{**old_dep["metadata"], "resourceVersion": "48102",
                                       "annotations": M({**old_dep["metadata"]["annotations"],
                                                         "deployment.kubernetes.io/revision": "1"})})
    old_dep["status"] = dep_status(1, 2, rs_name, created_web, 1010)
    old_dep["metadata"]["managedFields"] += [
        mf("kube-controller-manager", "Update", "apps/v1", created_web,
           {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}}}),
        mf("kube-controller-manager", "Update", "apps/v1", 1010,
           owned_view({"status": old_dep["status"]}, drop_status=False),
           subresource="status")]
    new_dep = copy.deepcopy(old_dep)
    web_manifest2 = copy.deepcopy(web_manifest)
    web_manifest2["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "privileged": True}
    c0 = new_dep["spec"]["template"]["spec"]["containers"][0]
    new_dep["spec"]["template"]["spec"]["containers"][0] = o(
        "container", **{**c0, "securityContext": sc(privileged=True)})
    new_dep["metadata"] = o("meta", **{**new_dep["metadata"], "generation": 2,
                                       "annotations": M({**new_dep["metadata"]["annotations"],
                                                         "kubectl.kubernetes.io/last-applied-configuration":
                                                         last_applied(web_manifest2)})})
    nv = owned_view(new_dep)
    nv["metadata"]["annotations"].pop("deployment.kubernetes.io/revision")
    new_dep["metadata"]["managedFields"][0] = mf("kubectl-client-side-apply", "Update",
                                                 "apps/v1", s, nv)
    add(review("web-priv-update", gvk("apps", "v1", "Deployment"),
               gvr("apps", "v1", "deployments"), "UPDATE", BOB, "web", "default",
               new_dep, old=old_dep, options=update_opts("kubectl-client-side-apply"),
               ts=ts_for(11, s)),
        "Deployment web: template container gains privileged:true (oldObject without)")

    # ---- 13. DELETE pod ------------------------------------------------------
    s = nxt()
    priv_run = running(priv, "worker-2", "10.0.1.12", priv_created, s, "48377",
                       {"shell": hexd("ubuntu-image-id")})
    add(review("priv-delete", CORE_POD, PODS, "DELETE", BOB, "priv-debug", "default",
               None, old=priv_run, options=delete_opts(30), ts=ts_for(12, s)),
        "DELETE pod priv-debug (object null, oldObject running pod)")

    # ---- 14-17. CONNECT --------------------------------------------------------
    s = nxt()
    add(review("exec-nginx", gvk("", "v1", "PodExecOptions"), PODS, "CONNECT", ALICE,
               "nginx", "default",
               {"kind": "PodExecOptions", "apiVersion": "v1", "stdin": True,
                "stdout": True, "tty": True, "container": "nginx",
                "command": ["/bin/sh", "-c", "id; cat /etc/shadow"]},
               sub="exec", ts=ts_for(13, s)),
        "pods/exec into nginx: /bin/sh -c 'id; cat /etc/shadow'")
    s = nxt()
    add(review("attach-nginx", gvk("", "v1", "PodAttachOptions"), PODS, "CONNECT", ALICE,
               "nginx", "default",
               {"kind": "PodAttachOptions", "apiVersion": "v1", "stdin": True,
                "stdout": True, "tty": True, "container": "nginx"},
               sub="attach", ts=ts_for(14, s)),
        "pods/attach to nginx")
    s = nxt()
    add(review("pf-postgres", gvk("", "v1", "PodPortForwardOptions"), PODS, "CONNECT",
               BOB, "postgres-0", "data",
               {"kind": "PodPortForwardOptions", "apiVersion": "v1",
                "ports": [8080, 5432]},
               sub="portforward", ts=ts_for(15, s)),
        "pods/portforward postgres-0 ports 8080,5432")
    s = nxt()
    add(review("nodeproxy", gvk("", "v1", "NodeProxyOptions"), gvr("", "v1", "nodes"),
               "CONNECT", BOB, "worker-1", None,
               {"kind": "NodeProxyOptions", "apiVersion": "v1",
                "path": "/exec/default/nginx/nginx"},
               sub="proxy", ts=ts_for(16, s)),
        "nodes/proxy to kubelet /exec/default/nginx/nginx (cluster-scoped)")

    # ---- 18. ClusterRoleBinding to cluster-admin --------------------------
    RBAC = "rbac.authorization.k8s.io"
    s = nxt()
    crb_md = meta("mallory-admin", None, t(s))
    crb = o("object", kind="ClusterRoleBinding", apiVersion=f"{RBAC}/v1", metadata=crb_md,
            subjects=[o("subject", kind="User", apiGroup=RBAC, name="mallory"),
                      o("subject", kind="Group", apiGroup=RBAC, name="system:masters"),
                      o("subject", kind="ServiceAccount", name="deployer", namespace="ci")],
            roleRef={"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"})
    crb_md["managedFields"] = [mf("kubectl-create", "Update", f"{RBAC}/v1", s,
                                  owned_view(crb))]
    add(review("crb-create", gvk(RBAC, "v1", "ClusterRoleBinding"),
               gvr(RBAC, "v1", "clusterrolebindings"), "CREATE", ADMIN, "mallory-admin",
               None, crb, options=create_opts("kubectl-create"), ts=ts_for(17, s)),
        "ClusterRoleBinding cluster-admin -> User mallory, Group system:masters, SA ci/deployer")

    # ---- 19. RoleBinding, SA subject without namespace ---------------------
    s = nxt()
    rb_manifest = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                   "metadata": {"annotations": {}, "name": "deployer-edit",
                                "namespace": "default"},
                   "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"},
                   "subjects": [{"kind": "ServiceAccount", "name": "deployer"}]}
    rb_md = meta("deployer-edit", "default", t(s),
                 annotations={"kubectl.kubernetes.io/last-applied-configuration":
                              last_applied(rb_manifest)})
    rb = o("object", kind="RoleBinding", apiVersion=f"{RBAC}/v1", metadata=rb_md,
           subjects=[o("subject", kind="ServiceAccount", name="deployer")],
           roleRef={"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"})
    rb_md["managedFields"] = [mf("kubectl-client-side-apply", "Update", f"{RBAC}/v1", s,
                                 owned_view(rb))]
    add(review("rb-create", gvk(RBAC, "v1", "RoleBinding"),
               gvr(RBAC, "v1", "rolebindings"), "CREATE", CI, "deployer-edit", "default",
               rb, options=create_opts("kubectl-client-side-apply"), ts=ts_for(18, s)),
        "RoleBinding edit -> ServiceAccount deployer (no namespace)")

    # ---- 20-21. ClusterRoles ------------------------------------------------
    s = nxt()
    cr_md = meta("ci-superuser", None, t(s))
    cr = o("object", kind="ClusterRole", apiVersion=f"{RBAC}/v1", metadata=cr_md,
           rules=[o("rule", verbs=["*"], apiGroups=["*"], resources=["*"])])
    cr_md["managedFields"] = [mf("kubectl-create", "Update", f"{RBAC}/v1", s,
                                 owned_view(cr))]
    add(review("cr-wild", gvk(RBAC, "v1", "ClusterRole"),
               gvr(RBAC, "v1", "clusterroles"), "CREATE", ADMIN, "ci-superuser", None,
               cr, options=create_opts("kubectl-create"), ts=ts_for(19, s)),
        "ClusterRole with */*/* rule")
    s = nxt()
    cr2_md = meta("pod-exec-metrics", None, t(s), labels={"team": "sre"})
    cr2 = o("object", kind="ClusterRole", apiVersion=f"{RBAC}/v1", metadata=cr2_md,
            rules=[o("rule", verbs=["create", "get"], apiGroups=[""],
                     resources=["pods/exec"]),
                   o("rule", verbs=["get"], nonResourceURLs=["/metrics"])])
    cr2_md["managedFields"] = [mf("kubectl-create", "Update", f"{RBAC}/v1", s,
                                  owned_view(cr2))]
    add(review("cr-exec", gvk(RBAC, "v1", "ClusterRole"),
               gvr(RBAC, "v1", "clusterroles"), "CREATE", ADMIN, "pod-exec-metrics",
               None, cr2, options=create_opts("kubectl-create"), ts=ts_for(20, s)),
        "ClusterRole pods/exec create,get + nonResourceURLs /metrics")

    # ---- 22. UPDATE system:aggregate-to-edit -----------------------------------
    s = nxt()
    agg_rules = [
        o("rule", verbs=["create", "delete", "deletecollection", "patch", "update"],
          apiGroups=[""], resources=["pods", "pods/attach", "pods/exec",
                                      "pods/portforward", "pods/proxy"]),
        o("rule", verbs=["create", "delete", "deletecollection", "patch", "update"],
          apiGroups=[""], resources=["configmaps", "events", "persistentvolumeclaims",
                                      "replicationcontrollers",
                                      "replicationcontrollers/scale", "secrets",
                                      "serviceaccounts", "services", "services/proxy"]),
        o("rule", verbs=["create"], apiGroups=[""], resources=["serviceaccounts/token"]),
        o("rule", verbs=["create", "delete", "deletecollection", "patch", "update"],
          apiGroups=["apps"], resources=["daemonsets", "deployments",
                                          "deployments/rollback", "deployments/scale",
                                          "replicasets", "replicasets/scale",
                                          "statefulsets", "statefulsets/scale"]),
        o("rule", verbs=["create", "delete", "deletecollection", "patch", "update"],
          apiGroups=["batch"], resources=["cronjobs", "jobs"]),
    ]
    agg_old_md = meta("system:aggregate-to-edit", None, "2026-03-02T08:11:47Z",
                      rv="74", labels={"kubernetes.io/bootstrapping": "rbac-defaults",
                                       "rbac.authorization.k8s.io/aggregate-to-edit": "true"},
                      annotations={"rbac.authorization.kubernetes.io/autoupdate": "true"})
    agg_old = o("object", kind="ClusterRole", apiVersion=f"{RBAC}/v1",
                metadata=agg_old_md, rules=agg_rules)
    agg_old_md["managedFields"] = [o("managedField", manager="kube-apiserver",
                                     operation="Update", apiVersion=f"{RBAC}/v1",
                                     time="2026-03-02T08:11:47Z", fieldsType="FieldsV1",
                                     fieldsV1=fset(owned_view(agg_old)))]
    agg_new = copy.deepcopy(agg_old)
    agg_new["rules"] = agg_rules + [o("rule", verbs=["get", "create"], apiGroups=[""],
                                      resources=["nodes/proxy"])]
    agg_new["metadata"]["managedFields"].append(
        mf("kubectl-edit", "Update", f"{RBAC}/v1", s, {"rules": agg_new["rules"]}))
    add(review("agg-update", gvk(RBAC, "v1", "ClusterRole"),
               gvr(RBAC, "v1", "clusterroles"), "UPDATE", ADMIN,
               "system:aggregate-to-edit", None, agg_new, old=agg_old,
               options=update_opts("kubectl-edit"), ts=ts_for(21, s)),
        "UPDATE system:aggregate-to-edit: adds nodes/proxy get,create")

    # ---- 23. DELETE ClusterRoleBinding -------------------------------------------
    s = nxt()
    crb_old = copy.deepcopy(crb)
    crb_old["metadata"] = o("meta", **{**crb_old["metadata"], "resourceVersion": "48511"})
    add(review("crb-delete", gvk(RBAC, "v1", "ClusterRoleBinding"),
               gvr(RBAC, "v1", "clusterrolebindings"), "DELETE", ADMIN, "mallory-admin",
               None, None, old=crb_old, options=delete_opts(), ts=ts_for(22, s)),
        "DELETE ClusterRoleBinding mallory-admin")

    # ---- 24-25. ConfigMap CREATE / UPDATE -------------------------------------
    s = nxt()
    cm_data = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
               "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
               "config.yaml": "server:\n  port: 8080\n  log_level: info\ndatabase:\n  host: postgres.data.svc\n",
               "password": "hunter2"}
    cm_bin = {"logo.png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}
    cm_manifest = {"apiVersion": "v1", "kind": "ConfigMap", "data": cm_data,
                   "binaryData": cm_bin,
                   "metadata": {"annotations": {}, "name": "app-config",
                                "namespace": "apps"}}
    cm_md = meta("app-config", "apps", t(s),
                 annotations={"kubectl.kubernetes.io/last-applied-configuration":
                              last_applied(cm_manifest)})
    cm = o("object", kind="ConfigMap", apiVersion="v1", metadata=cm_md, data=M(cm_data),
           binaryData=M(cm_bin))
    cm_md["managedFields"] = [mf("kubectl-client-side-apply", "Update", "v1", s,
                                 owned_view(cm))]
    add(review("cm-create", gvk("", "v1", "ConfigMap"), gvr("", "v1", "configmaps"),
               "CREATE", CI, "app-config", "apps", cm,
               options=create_opts("kubectl-client-side-apply"), ts=ts_for(23, s)),
        "ConfigMap with aws_access_key_id, password + binaryData")
    s = nxt()
    cm_old = copy.deepcopy(cm)
    cm_old["metadata"] = o("meta", **{**cm_old["metadata"], "resourceVersion": "48630"})
    cm_new = copy.deepcopy(cm_old)
    cm_data2 = dict(cm_data)
    cm_data2["config.yaml"] = cm_data["config.yaml"].replace("info", "debug")
    cm_data2["feature_flags"] = "beta-ui=true,new-billing=false"
    cm_manifest2 = {**cm_manifest, "data": cm_data2}
    cm_new["data"] = M(cm_data2)
    cm_new["metadata"] = o("meta", **{**cm_new["metadata"], "annotations": M({
        "kubectl.kubernetes.io/last-applied-configuration": last_applied(cm_manifest2)})})
    cm_new["metadata"]["managedFields"] = [mf("kubectl-client-side-apply", "Update", "v1",
                                              s, owned_view(cm_new))]
    add(review("cm-update", gvk("", "v1", "ConfigMap"), gvr("", "v1", "configmaps"),
               "UPDATE", CI, "app-config", "apps", cm_new, old=cm_old,
               options=update_opts("kubectl-client-side-apply"), ts=ts_for(24, s)),
        "ConfigMap UPDATE (log_level, new feature_flags key)")

    # ---- 26. Secret ----------------------------------------------------------------
    s = nxt()
    sec_data = {"password": "czNjcjN0LVBAc3N3MHJkIQ==", "username": "cG9zdGdyZXM="}
    sec_manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "data": sec_data,
                    "metadata": {"annotations": {}, "name": "db-credentials",
                                 "namespace": "data"}}
    sec_md = meta("db-credentials", "data", t(s),
                  annotations={"kubectl.kubernetes.io/last-applied-configuration":
                               last_applied(sec_manifest)})
    secret = o("object", kind="Secret", apiVersion="v1", metadata=sec_md,
               data=M(sec_data), type="Opaque")
    sec_md["managedFields"] = [mf("kubectl-client-side-apply", "Update", "v1", s,
                                  owned_view(secret))]
    add(review("secret-create", gvk("", "v1", "Secret"), gvr("", "v1", "secrets"),
               "CREATE", ALICE, "db-credentials", "data", secret,
               options=create_opts("kubectl-client-side-apply"), ts=ts_for(25, s)),
        "Secret Opaque (data + last-applied annotation carry the secret; plugin redacts)")

    # ---- 27-28. Services ----------------------------------------------------------
    s = nxt()
    np_md = meta("web-nodeport", "default", t(s), labels={"app": "web"})
    np = o("object", kind="Service", apiVersion="v1", metadata=np_md,
           spec=o("svcSpec",
                  ports=[o("svcPort", name="http", protocol="TCP", port=80,
                           targetPort=8080, nodePort=30080),
                         o("svcPort", name="https", protocol="TCP", port=443,
                           targetPort=8443, nodePort=30443)],
                  selector=M({"app": "web"}), clusterIP="10.96.142.17",
                  clusterIPs=["10.96.142.17"], type="NodePort",
                  sessionAffinity="None", externalTrafficPolicy="Cluster",
                  ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack",
                  internalTrafficPolicy="Cluster"))
    npv = owned_view(np)
    for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        npv["spec"].pop(k)
    np_md["managedFields"] = [mf("kubectl-create", "Update", "v1", s, npv)]
    np["status"] = {"loadBalancer": {}}
    add(review("svc-nodeport", gvk("", "v1", "Service"), gvr("", "v1", "services"),
               "CREATE", BOB, "web-nodeport", "default", np,
               options=create_opts("kubectl-create"), ts=ts_for(26, s)),
        "Service NodePort 30080/30443 (clusterIP and nodePorts already allocated)")
    s = nxt()
    cip_md = meta("postgres", "data", t(s), labels={"app": "postgres"})
    cip = o("object", kind="Service", apiVersion="v1", metadata=cip_md,
            spec=o("svcSpec",
                   ports=[o("svcPort", name="pg", protocol="TCP", port=5432,
                            targetPort="pg")],
                   selector=M({"app": "postgres"}), clusterIP="10.96.77.203",
                   clusterIPs=["10.96.77.203"], type="ClusterIP",
                   sessionAffinity="None", ipFamilies=["IPv4"],
                   ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster"))
    cv = owned_view(cip)
    for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        cv["spec"].pop(k)
    cip_md["managedFields"] = [mf("kubectl-create", "Update", "v1", s, cv)]
    cip["status"] = {"loadBalancer": {}}
    add(review("svc-clusterip", gvk("", "v1", "Service"), gvr("", "v1", "services"),
               "CREATE", ALICE, "postgres", "data", cip,
               options=create_opts("kubectl-create"), ts=ts_for(27, s)),
        "Service ClusterIP (targetPort is a named port string)")

    # ---- 29. Namespace ------------------------------------------------------------
    s = nxt()
    ns_md = meta("payments", None, t(s),
                 labels={"kubernetes.io/metadata.name": "payments"})
    ns_obj = o("object", kind="Namespace", apiVersion="v1", metadata=ns_md,
               spec={"finalizers": ["kubernetes"]})
    ns_md["managedFields"] = [mf("kubectl-create", "Update", "v1", s,
                                 {"metadata": {"labels": {"kubernetes.io/metadata.name": "payments"}}})]
    ns_obj["status"] = {"phase": "Active"}
    add(review("ns-create", gvk("", "v1", "Namespace"), gvr("", "v1", "namespaces"),
               "CREATE", ADMIN, "payments", "payments", ns_obj,
               options=create_opts("kubectl-create"), ts=ts_for(28, s)),
        "Namespace payments (request.namespace = its own name)")

    # ---- 30. ServiceAccount --------------------------------------------------------
    s = nxt()
    sa_md = meta("backup-operator", "kube-system", t(s))
    sa_md["managedFields"] = [mf("kubectl-create", "Update", "v1", s, {})]
    sa_obj = o("object", kind="ServiceAccount", apiVersion="v1", metadata=sa_md)
    add(review("sa-create", gvk("", "v1", "ServiceAccount"),
               gvr("", "v1", "serviceaccounts"), "CREATE", ADMIN, "backup-operator",
               "kube-system", sa_obj, options=create_opts("kubectl-create"),
               ts=ts_for(29, s)),
        "ServiceAccount in kube-system")

    # ---- 31. serviceaccounts/token ----------------------------------------------
    s = nxt()
    add(review("sa-token", gvk("authentication.k8s.io", "v1", "TokenRequest"),
               gvr("", "v1", "serviceaccounts"), "CREATE", BOB, "deployer", "ci",
               {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": "deployer", "namespace": "ci",
                             "creationTimestamp": None},
                "spec": {"audiences": ["https://kubernetes.default.svc"],
                         "expirationSeconds": 3600},
                "status": {"token": "", "expirationTimestamp": None}},
               options=create_opts(), sub="token", ts=ts_for(30, s)),
        "serviceaccounts/token for ci/deployer (TokenRequest)")

    # ---- 32. Ingress -----------------------------------------------------------
    s = nxt()
    NET = "networking.k8s.io"
    ing_md = meta("web", "default", t(s), generation=1,
                  annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/"})
    ing = o("object", kind="Ingress", apiVersion=f"{NET}/v1", metadata=ing_md,
            spec={"ingressClassName": "nginx", "rules": [{
                "host": "shop.example.com", "http": {"paths": [{
                    "path": "/", "pathType": "Prefix", "backend": {"service": {
                        "name": "web", "port": {"number": 80}}}}]}}]})
    ing_md["managedFields"] = [mf("kubectl-create", "Update", f"{NET}/v1", s,
                                  owned_view(ing))]
    ing["status"] = {"loadBalancer": {}}
    add(review("ing-create", gvk(NET, "v1", "Ingress"), gvr(NET, "v1", "ingresses"),
               "CREATE", BOB, "web", "default", ing,
               options=create_opts("kubectl-create"), ts=ts_for(31, s)),
        "Ingress without tls")

    # ---- 33. DELETE NetworkPolicy --------------------------------------------
    s = nxt()
    npol_md = meta("default-deny-ingress", "data", "2026-11-02T14:20:11Z", rv="31877",
                   generation=1)
    npol = o("object", kind="NetworkPolicy", apiVersion=f"{NET}/v1", metadata=npol_md,
             spec={"podSelector": {}, "policyTypes": ["Ingress"]})
    npol_md["managedFields"] = [o("managedField", manager="kubectl-create",
                                  operation="Update", apiVersion=f"{NET}/v1",
                                  time="2026-11-02T14:20:11Z", fieldsType="FieldsV1",
                                  fieldsV1={"f:spec": {"f:podSelector": {},
                                                       "f:policyTypes": {}}})]
    add(review("npol-delete", gvk(NET, "v1", "NetworkPolicy"),
               gvr(NET, "v1", "networkpolicies"), "DELETE", ALICE,
               "default-deny-ingress", "data", None, old=npol, options=delete_opts(),
               ts=ts_for(32, s)),
        "DELETE NetworkPolicy default-deny-ingress")

    # ---- 34. Node CREATE (kubelet registration) --------------------------------
    s = nxt()
    node_md = meta("worker-3", None, t(s), uid_label="node:worker-3",
                   labels={"beta.kubernetes.io/arch": "amd64",
                           "beta.kubernetes.io/os": "linux",
                           "kubernetes.io/arch": "amd64",
                           "kubernetes.io/hostname": "worker-3",
                           "kubernetes.io/os": "linux"},
                   annotations={"volumes.kubernetes.io/controller-managed-attach-detach": "true"})
    res = M({"cpu": "4", "ephemeral-storage": "101430960Ki", "hugepages-1Gi": "0",
             "hugepages-2Mi": "0", "memory": "16374328Ki", "pods": "110"})
    alloc = M({**res, "ephemeral-storage": "93478772582", "memory": "16271928Ki"})
    conds = [{"type": ty, "status": st, "lastHeartbeatTime": t(s - 1),
              "lastTransitionTime": t(s - 1), "reason": rs, "message": msg}
             for ty, st, rs, msg in (
                 ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available"),
                 ("DiskPressure", "False", "KubeletHasNoDiskPressure",
                  "kubelet has no disk pressure"),
                 ("PIDPressure", "False", "KubeletHasSufficientPID",
                  "kubelet has sufficient PID available"),
                 ("Ready", "False", "KubeletNotReady",
                  "container runtime status check may not have completed yet"))]
    node = o("object", kind="Node", apiVersion="v1", metadata=node_md,
             spec={"taints": [{"key": "node.kubernetes.io/not-ready",
                               "effect": "NoSchedule"}]},
             status={"capacity": res, "allocatable": alloc, "conditions": conds,
                     "addresses": [{"type": "InternalIP", "address": "10.0.1.13"},
                                   {"type": "Hostname", "address": "worker-3"}],
                     "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                     "nodeInfo": {"machineID": hexd("machine:w3", 32),
                                  "systemUUID": uid("sysuuid:w3"),
                                  "bootID": uid("boot:w3"),
                                  "kernelVersion": "6.8.0-49-generic",
                                  "osImage": "Ubuntu 24.04.1 LTS",
                                  "containerRuntimeVersion": "containerd://1.7.22",
                                  "kubeletVersion": "v1.34.2",
                                  "kubeProxyVersion": "", "operatingSystem": "linux",
                                  "architecture": "amd64"}})
    node_md["managedFields"] = [mf("kubelet", "Update", "v1", s,
                                   owned_view(node, drop_status=False))]
    add(review("node-create", gvk("", "v1", "Node"), gvr("", "v1", "nodes"), "CREATE",
               node_user("worker-3"), "worker-3", None, node, options=create_opts(),
               ts=ts_for(33, s)),
        "Node worker-3 registered by its kubelet")

    # ---- 35. Lease UPDATE (noise) --------------------------------------------------
    s = nxt(3)
    COORD = "coordination.k8s.io"
    lease_old_md = meta("worker-1", "kube-node-lease", "2026-11-01T09:02:13Z",
                        rv="48590",
                        owner=[o("ownerRef", apiVersion="v1", kind="Node",
                                 name="worker-1", uid=uid("node:worker-1"))])
    lease_old = o("object", kind="Lease", apiVersion=f"{COORD}/v1",
                  metadata=lease_old_md,
                  spec={"holderIdentity": "worker-1", "leaseDurationSeconds": 40,
                        "renewTime": f"{DAY}T{hms(s - 10)}.402118Z"})
    lease_old_md["managedFields"] = [o("managedField", manager="kubelet",
                                       operation="Update", apiVersion=f"{COORD}/v1",
                                       time=t(s - 10), fieldsType="FieldsV1",
                                       fieldsV1=fset(owned_view(lease_old)))]
    lease_new = copy.deepcopy(lease_old)
    lease_new["spec"]["renewTime"] = f"{DAY}T{hms(s)}.412356Z"
    lease_new["metadata"]["managedFields"][0]["time"] = t(s)
    add(review("lease-update", gvk(COORD, "v1", "Lease"), gvr(COORD, "v1", "leases"),
               "UPDATE", node_user("worker-1"), "worker-1", "kube-node-lease",
               lease_new, old=lease_old, options=update_opts(), ts=ts_for(34, s)),
        "Lease renew by kubelet (noise)")

    # ---- 36. dry-run privileged pod ------------------------------------------------
    s = nxt()
    dry_spec = podspec(
        [container("pwn", "alpine:3.20", command=["sh", "-c", "nsenter -t 1 -m -u -i -n sh"],
                   stdin=True, tty=True,
                   security=sc(privileged=True))],
        host_pid=True)
    dry_manifest = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"annotations": {}, "name": "nsenter-test",
                                 "namespace": "default"},
                    "spec": {"hostPID": True, "containers": [{
                        "name": "pwn", "image": "alpine:3.20",
                        "command": ["sh", "-c", "nsenter -t 1 -m -u -i -n sh"],
                        "stdin": True, "tty": True,
                        "securityContext": {"privileged": True}}]}}
    dry = make_pod("nsenter-test", "default", dry_spec, s, "kubectl-client-side-apply",
                   annotations={"kubectl.kubernetes.io/last-applied-configuration":
                                last_applied(dry_manifest)})
    add(review("dry-priv", CORE_POD, PODS, "CREATE", BOB, "nsenter-test", "default", dry,
               options=create_opts("kubectl-client-side-apply", dry=True), dry=True,
               ts=ts_for(35, s)),
        "dry-run (server) CREATE of a privileged hostPID pod")

    # ---- 37. server-side apply CREATE of a Deployment -------------------------------
    s = nxt()
    ssa_applied = {"metadata": {"labels": {"app": "api"}},
                   "spec": {"replicas": 3,
                            "selector": {"matchLabels": {"app": "api"}},
                            "template": {"metadata": {"labels": {"app": "api"}},
                                         "spec": {"containers": [{
                                             "name": "api",
                                             "image": "registry.example.com:5000/team/api:3.1.0",
                                             "ports": [{"containerPort": 8443,
                                                        "protocol": "TCP"}]}]}}}}
    ssa_tpl = template({"app": "api"}, podspec(
        [container("api", "registry.example.com:5000/team/api:3.1.0",
                   ports=[cport(8443)])]))
    ssa = deployment("api", "payments", ssa_tpl, s, 3, {"app": "api"}, None,
                     labels={"app": "api"})
    ssa["metadata"]["managedFields"] = [mf("kubectl", "Apply", "apps/v1", s, ssa_applied)]
    add(review("ssa-deploy", gvk("apps", "v1", "Deployment"),
               gvr("apps", "v1", "deployments"), "CREATE", CI, "api", "payments", ssa,
               options={"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                        "fieldManager": "kubectl"}, ts=ts_for(36, s)),
        "server-side apply CREATE (managedFields operation Apply, fieldManager kubectl)")

    return L


# --------------------------------------------------------------------------
# edge cases
# --------------------------------------------------------------------------

def simple_pod(name, ns, containers, sec=2000, labels=None, spec_extra=None):
    spec = podspec(containers)
    if spec_extra:
        spec = o("podSpec", **{**spec, **spec_extra})
    return make_pod(name, ns, spec, sec, "kubectl-run", labels=labels)


OLD_ALICE = o("userInfo", username="alice", groups=["dev", "system:authenticated"])
OLD_ADMIN = o("userInfo", username="kubernetes-admin",
              groups=["system:masters", "system:authenticated"])
OLD_OPTS = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}


def edge_lines():
    """Returns list of (raw_bytes_line_without_terminator, terminator, note, expect)
    expect: 'valid' (parses, review with uid), 'invalid' (framing ok, fails
    validity), 'blank'."""
    out = []
    sec = 2000

    def ts(i):
        return ts_for(i + 3, sec + i * 5)

    # 1. admission.k8s.io/v1beta1 review from an old cluster (no managedFields)
    # (1.15-era cluster: secret-based SA token volume, no managedFields, no
    # credential-id in userInfo, no fieldManager/fieldValidation)
    p = simple_pod("legacy", "default", [container("legacy", "nginx:1.15")], sec)
    del p["metadata"]["managedFields"]
    legacy_tok = "default-token-" + suffix("legacy-token")
    p["spec"]["volumes"] = [{"name": legacy_tok, "secret": {"secretName": legacy_tok,
                                                             "defaultMode": 420}}]
    p["spec"]["containers"][0]["volumeMounts"] = [vmount(legacy_tok, SA_MOUNT, True)]
    del p["spec"]["preemptionPolicy"]
    out.append((go_json(review("e-v1beta1", CORE_POD, PODS, "CREATE", OLD_ALICE, "legacy",
                               "default", p, options=OLD_OPTS,
                               api="admission.k8s.io/v1beta1", ts=ts(1))),
                "\n", "admission.k8s.io/v1beta1 review (Pod CREATE)", "valid"))

    # 2. CRLF terminated: PodTemplate (core) - PS = O.template.spec
    ptpl_md = meta("batch-worker", "apps", t(sec + 10))
    ptpl = o("object", kind="PodTemplate", apiVersion="v1", metadata=ptpl_md,
             template=template({"app": "batch-worker"}, podspec(
                 [container("worker", "busybox:1.36", command=["sleep", "3600"],
                            security=sc(privileged=True, runAsUser=0))],
                 host_ipc=True)))
    ptpl_md["managedFields"] = [mf("kubectl-create", "Update", "v1", sec + 10,
                                   owned_view(ptpl))]
    out.append((go_json(review("e-podtemplate", gvk("", "v1", "PodTemplate"),
                               gvr("", "v1", "podtemplates"), "CREATE", BOB,
                               "batch-worker", "apps", ptpl,
                               options=create_opts("kubectl-create"), ts=ts(2))),
                "\r\n", "CRLF-terminated line; core PodTemplate (privileged, hostIPC)",
                "valid"))

    # 3. leading/trailing whitespace: ReplicationController
    rc_md = meta("legacy-rc", "default", t(sec + 15), generation=1,
                 labels={"app": "legacy-rc"})
    rc = o("object", kind="ReplicationController", apiVersion="v1", metadata=rc_md,
           spec={"replicas": 2, "selector": {"app": "legacy-rc"},
                 "template": template({"app": "legacy-rc"}, podspec(
                     [container("app", "nginx:1.27.2", ports=[cport(80)])],
                     host_network=True))})
    rc_md["managedFields"] = [mf("kubectl-create", "Update", "v1", sec + 15,
                                 owned_view(rc))]
    rc["status"] = {"replicas": 0}
    out.append(("   " + go_json(review("e-rc", gvk("", "v1", "ReplicationController"),
                                        gvr("", "v1", "replicationcontrollers"), "CREATE",
                                        ALICE, "legacy-rc", "default", rc,
                                        options=create_opts("kubectl-create"),
                                        ts=ts(3))) + "  \t",
                "\n", "leading spaces + trailing spaces/tab; ReplicationController (hostNetwork template, containerPort 80 no hostPort)",
                "valid"))

    # 4. blank line, 5. whitespace-only line
    out.append(("", "\n", "blank line", "blank"))
    out.append(("  \t  ", "\n", "whitespace-only line", "blank"))

    # 6. NUL in container name, escaped unicode and / < & " in labels
    weird = simple_pod("weird", "default",
                       [container("app\u0000evil", "nginx:1.27.2")], sec + 20,
                       labels={"app": "weird", "note": "@@NOTE@@",
                               "raw": "caf\u00e9 \u2603 a/b <x> & \"q\""})
    line = go_json(review("e-weird", CORE_POD, PODS, "CREATE", ALICE, "weird", "default",
                          weird, options=create_opts("kubectl-run"), ts=ts(4)))
    # hand-written escapes: \u00e9 (é), \u2603 (☃), \/ (escaped solidus), \u003c, raw &, \"
    line = line.replace("@@NOTE@@", "caf\\u00e9 \\u2603 a\\/b \\u003cx> & \\\"q\\\" \\ud83d\\ude00")
    out.append((line, "\n",
                "container name with \\u0000; labels: note=escaped unicode (\\u00e9, \\u2603, surrogate pair \\ud83d\\ude00), \\/ , \\u003c, &, \\\"; raw= same chars unescaped (Go-escaped <>&)",
                "valid"))

    # 7. no requestReceivedTimestamp (Rollout CRD)
    ro_md = meta("canary", "apps", t(sec + 25), generation=1)
    ro = o("object", kind="Rollout", apiVersion="argoproj.io/v1alpha1", metadata=ro_md)
    ro["spec"] = {"replicas": 5, "selector": {"matchLabels": {"app": "canary"}},
                  "strategy": {"canary": {"steps": [{"setWeight": 20},
                                                    {"pause": {"duration": "10m"}}]}},
                  "template": {"metadata": {"labels": {"app": "canary"}},
                               "spec": {"hostPID": True, "containers": [{
                                   "name": "canary", "image": "ghcr.io/org/canary:0.4.2",
                                   "securityContext": {"privileged": True,
                                                       "capabilities": {"add": ["SYS_PTRACE"]}},
                                   "volumeMounts": [{"name": "proc", "mountPath": "/host/proc"}]}],
                                   "volumes": [{"name": "proc", "hostPath": {"path": "/proc"}}]}}}
    ro_md["managedFields"] = [mf("argocd-controller", "Update", "argoproj.io/v1alpha1",
                                 sec + 25, owned_view(ro))]
    out.append((go_json(review("e-rollout", gvk("argoproj.io", "v1alpha1", "Rollout"),
                               gvr("argoproj.io", "v1alpha1", "rollouts"), "CREATE",
                               sa_user("argocd", "argocd-application-controller"),
                               "canary", "apps", ro, options=create_opts())),
                "\n", "NO requestReceivedTimestamp; argoproj.io/v1alpha1 Rollout (CRD, not defaulted) spec.template.spec privileged+hostPID+hostPath /proc",
                "valid"))

    # 8. timestamp with offset: extensions/v1beta1 DaemonSet (old cluster, v1beta1 review)
    eds = {"kind": "DaemonSet", "apiVersion": "extensions/v1beta1",
           "metadata": {"name": "old-agent", "namespace": "kube-system",
                        "uid": uid("obj:kube-system/old-agent"), "generation": 1,
                        "creationTimestamp": t(sec + 30),
                        "labels": {"app": "old-agent"}},
           "spec": {"selector": {"matchLabels": {"app": "old-agent"}},
                    "template": template({"app": "old-agent"}, podspec(
                        [container("agent", "acme/old-agent:0.1",
                                   security=sc(privileged=True))],
                        volumes=[hostpath_vol("docker", "/var/run/docker.sock")],
                        host_network=True)),
                    "updateStrategy": {"type": "OnDelete"},
                    "templateGeneration": 1, "revisionHistoryLimit": 10},
           "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                      "desiredNumberScheduled": 0, "numberReady": 0}}
    out.append((go_json(review("e-extds", gvk("extensions", "v1beta1", "DaemonSet"),
                               gvr("extensions", "v1beta1", "daemonsets"), "CREATE",
                               OLD_ADMIN, "old-agent", "kube-system", eds,
                               options=OLD_OPTS,
                               api="admission.k8s.io/v1beta1",
                               ts="2026-11-20T12:00:00.5+02:00")),
                "\n", "requestReceivedTimestamp 2026-11-20T12:00:00.5+02:00 (offset, 1 digit); extensions/v1beta1 DaemonSet in a v1beta1 review",
                "valid"))

    # 9. request without uid (invalid event: all fields empty)
    r = review("e-nouid", CORE_POD, PODS, "CREATE", ALICE, "nouid", "default",
               simple_pod("nouid", "default", [container("c", "nginx")], sec + 35),
               options=create_opts("kubectl-run"), ts=ts(9))
    del r["request"]["uid"]
    out.append((go_json(r), "\n", "request without uid -> invalid (all fields empty)",
                "invalid"))

    # 10. not a review
    out.append(('{"not":"a review"}', "\n", "JSON object that is not a review -> invalid",
                "invalid"))

    # 11. containers as a string (wrong shape)
    bad = simple_pod("wrong-shape", "default", [container("c", "nginx")], sec + 40)
    bad["spec"]["containers"] = "nginx:latest"
    bad["spec"]["initContainers"] = {"name": "not-a-list"}
    bad["spec"]["hostNetwork"] = "yes"
    out.append((go_json(review("e-shape", CORE_POD, PODS, "CREATE", ALICE, "wrong-shape",
                               "default", bad, options=create_opts("kubectl-run"),
                               ts=ts(11))),
                "\n", "Pod with spec.containers a string, initContainers an object, hostNetwork \"yes\" (wrong shapes -> fields empty, no failure)",
                "valid"))

    # 12. ConfigMap with 45 keys in non-alphabetical order (+ offset timestamp -05:00)
    keys = [f"k{(i * 37) % 97:02d}-{w}" for i, w in enumerate(
        ["zulu", "alpha", "mike", "bravo", "yankee", "charlie", "xray", "delta", "whiskey",
         "echo", "victor", "foxtrot", "uniform", "golf", "tango", "hotel", "sierra",
         "india", "romeo", "juliett", "quebec", "kilo", "papa", "lima", "oscar",
         "november", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi",
         "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"])]
    data = {}
    for i, k in enumerate(keys):
        data[k] = [f"value-{i}", "multi\nline\tvalue", "quote \"x\" and \\ backslash",
                   "ünïcödé ✓", "<html>&amp;</html>"][i % 5]
    cmd = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "unordered", "namespace": "apps",
                        "uid": uid("obj:apps/unordered"),
                        "creationTimestamp": t(sec + 45)},
           "data": data}
    out.append((go_json(review("e-cm45", gvk("", "v1", "ConfigMap"),
                               gvr("", "v1", "configmaps"), "CREATE", CI, "unordered",
                               "apps", cmd, options=create_opts("kubectl-create"),
                               ts="2026-11-20T05:00:47.25-05:00")),
                "\n", f"ConfigMap with {len(data)} data keys in NON-alphabetical order (first keys: {', '.join(keys[:3])}); TS offset -05:00",
                "valid"))
    assert list(data) != sorted(data) and len(data) > 40
    return out


# --------------------------------------------------------------------------
# malformed lines
# --------------------------------------------------------------------------

def malformed_lines():
    """list of (bytes, terminator_bytes, note, expect)"""
    out = []
    sec = 3000

    def pod_review(label, name, i):
        p = simple_pod(name, "default", [container(name, "nginx:1.27.2")], sec + i)
        return go_json(review(label, CORE_POD, PODS, "CREATE", ALICE, name, "default", p,
                              options=create_opts("kubectl-run"),
                              ts=ts_for(i, sec + i))).encode()

    v1 = pod_review("m-1", "m-ok-1", 1)
    v2 = pod_review("m-2", "m-ok-2", 2)
    v3 = pod_review("m-3", "m-ok-3", 3)
    out.append((v1, b"\n", "valid Pod CREATE m-ok-1", "valid"))
    out.append((b"not json at all", b"\n", "not json at all", "malformed"))
    out.append((v2, b"\n", "valid Pod CREATE m-ok-2", "valid"))
    trunc = v2[: len(v2) * 2 // 3]
    while trunc.rstrip().endswith(b"}"):
        trunc = trunc[:-1]
    out.append((trunc, b"\n", "truncated review (starts with {, no closing })",
                "malformed"))
    out.append((b"[1,2,3]", b"\n", "JSON array", "malformed"))
    bad = v3.replace(b'"name":"m-ok-3"', b'"name":"m-bad-\xff\xfe-utf8"', 1)
    bad = bad.replace(uid("req:m-3").encode(), uid("req:m-bad").encode())
    assert b"\xff\xfe" in bad
    out.append((bad, b"\n", "review with raw bytes 0xff 0xfe inside a string (invalid UTF-8)",
                "malformed"))
    out.append((v3, b"", "valid Pod CREATE m-ok-3, NO trailing newline", "valid"))
    return out


def print_table(path, rows, size):
    print(f"\n### {os.path.basename(path)}  ({len(rows)} lines, {size} bytes)\n")
    print("| line | operation | kind | resource/sub | ns/name | user | note |")
    print("|---:|---|---|---|---|---|---|")
    for n, expect, info, note, crlf, ln in rows:
        if info:
            dry = " (dryRun)" if info["dry"] else ""
            print(f"| {n} | {info['op']}{dry} | {info['kind']} | {info['res']} | "
                  f"{info['target']} | {info['user']} | {note} |")
        else:
            print(f"| {n} | — | — | — | — | — | **{expect}**: {note} |")


def main(out=None, quiet=False):
    """Write the three capture files into `out` (default test_files/) and check them;
    print a table of each unless quiet."""
    out = out or (sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
    show = (lambda *a: None) if quiet else print_table
    os.makedirs(out, exist_ok=True)
    # sample
    sample = sample_lines()
    p1 = os.path.join(out, "kube_audit_rest_sample.jsonl")
    with open(p1, "wb") as f:
        for rv, _ in sample:
            f.write(go_json(rv).encode("utf-8") + b"\n")
    rows, size = check_file(p1, [(note, "valid") for _, note in sample])
    show(p1, rows, size)

    # edge cases
    edges = edge_lines()
    p2 = os.path.join(out, "edge_cases.jsonl")
    with open(p2, "wb") as f:
        for line, term, _, _ in edges:
            f.write(line.encode("utf-8") + term.encode())
    rows, size = check_file(p2, [(note, exp) for _, _, note, exp in edges])
    show(p2, rows, size)

    # malformed
    mal = malformed_lines()
    p3 = os.path.join(out, "malformed_lines.jsonl")
    with open(p3, "wb") as f:
        for line, term, _, _ in mal:
            f.write(line + term)
    assert not open(p3, "rb").read().endswith(b"\n")
    rows, size = check_file(p3, [(note, exp) for _, _, note, exp in mal])
    show(p3, rows, size)


if __name__ == "__main__":
    main()
