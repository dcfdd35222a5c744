//! Every field group on hand-written AdmissionReviews, through the plugin API
//! (falco_plugin_runner, one field per extract_fields call).

mod common;

use common::{pod, review, Host, Req};

fn v(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

#[test]
fn request_identity_user_and_target() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(r#"{"containers":[{"name":"app","image":"nginx"}]}"#));
    assert_eq!(
        h.one(&e, "kar.uid"),
        s("705ab4f5-6393-11e8-b7cc-42010a800002")
    );
    assert_eq!(
        h.one(&e, "kar.auditid"),
        s("705ab4f5-6393-11e8-b7cc-42010a800002")
    );
    assert_eq!(
        h.one(&e, "kar.timestamp"),
        s("2026-11-20T10:15:03.123456789Z")
    );
    assert_eq!(h.one(&e, "kar.dry_run"), s("false"));
    assert_eq!(h.one(&e, "kar.stage"), None);
    assert_eq!(h.one(&e, "kar.auth.decision"), s("allow"));
    assert_eq!(h.one(&e, "kar.auth.reason"), None);
    assert_eq!(h.one(&e, "kar.user.name"), s("alice"));
    assert_eq!(h.one(&e, "kar.user.uid"), s("u-1"));
    assert_eq!(
        h.get(&e, "kar.user.groups"),
        v(&["system:authenticated", "dev"])
    );
    assert_eq!(
        h.get(
            &e,
            "kar.user.extra[authentication.kubernetes.io/credential-id]"
        ),
        v(&["X509SHA256=abc"])
    );
    assert_eq!(h.get(&e, "kar.user.extra[nope]"), None);
    assert_eq!(h.one(&e, "kar.impuser.name"), None);
    assert_eq!(h.one(&e, "kar.verb"), s("CREATE"));
    assert_eq!(h.one(&e, "kar.target.name"), s("web"));
    assert_eq!(h.one(&e, "kar.target.namespace"), s("default"));
    assert_eq!(h.one(&e, "kar.target.resource"), s("pods"));
    assert_eq!(h.one(&e, "kar.target.subresource"), None);
    assert_eq!(h.one(&e, "kar.target.pod.name"), s("web"));
    assert_eq!(h.one(&e, "kar.req.kind"), s("Pod"));
    assert_eq!(h.one(&e, "kar.req.group"), None);
    assert_eq!(h.one(&e, "kar.req.version"), s("v1"));
    assert_eq!(
        h.one(&e, "kar.req.field_manager"),
        s("kubectl-client-side-apply")
    );
    assert_eq!(h.one(&e, "kar.resp.name"), s("web"));
    for never in [
        "kar.response.code",
        "kar.response.reason",
        "kar.useragent",
        "kar.cluster.name",
    ] {
        assert_eq!(h.one(&e, never), None, "{never}");
    }
    assert_eq!(h.get(&e, "kar.sourceips"), None);
    assert_eq!(h.one(&e, "kar.auditid"), h.one(&e, "kar.uid"));
}

#[test]
fn auditid_and_cluster_name_when_supplied() {
    let mut h = Host::new(r#"{"clusterName":"prod-eu"}"#);
    let json = review(r#""operation":"CREATE""#).replacen('{', r#"{"auditID":"a-1","#, 1);
    let e = h.event(&json);
    assert_eq!(h.one(&e, "kar.auditid"), s("a-1"));
    assert_eq!(h.one(&e, "kar.cluster.name"), s("prod-eu"));
}

#[test]
fn uri_for_namespaced_cluster_scoped_and_subresource_requests() {
    let mut h = Host::new("{}");
    let create = h.event(&pod("{}"));
    assert_eq!(
        h.one(&create, "kar.uri"),
        s("/api/v1/namespaces/default/pods")
    );
    let crb = h.event(
        &Req {
            op: "DELETE",
            group: "rbac.authorization.k8s.io",
            kind: "ClusterRoleBinding",
            resource: "clusterrolebindings",
            name: "admin-all",
            old_object: r#"{"metadata":{"name":"admin-all"}}"#,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(
        h.one(&crb, "kar.uri"),
        s("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/admin-all")
    );
    assert_eq!(h.one(&crb, "kar.target.name"), s("admin-all"));
    assert_eq!(h.one(&crb, "kar.resp.name"), s("admin-all"));
    let ns = h.event(
        &Req {
            kind: "Namespace",
            resource: "namespaces",
            namespace: Some("payments"),
            name: "payments",
            object: r#"{"metadata":{"name":"payments"}}"#,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.one(&ns, "kar.uri"), s("/api/v1/namespaces"));
    let exec = h.event(&review(
        r#""kind":{"group":"","version":"v1","kind":"PodExecOptions"},"resource":{"group":"","version":"v1","resource":"pods"},"subResource":"exec","requestResource":{"group":"","version":"v1","resource":"pods"},"requestSubResource":"exec","name":"nginx","namespace":"default","operation":"CONNECT","userInfo":{"username":"bob"},"object":{"kind":"PodExecOptions","apiVersion":"v1","stdin":true,"stdout":true,"tty":false,"container":"nginx","command":["/bin/sh","-c","id"]},"oldObject":null,"dryRun":false,"options":null"#,
    ));
    assert_eq!(
        h.one(&exec, "kar.uri"),
        s("/api/v1/namespaces/default/pods/nginx/exec")
    );
    assert_eq!(h.one(&exec, "kar.uri.param[command]"), s("/bin/sh"));
    assert_eq!(h.one(&exec, "kar.uri.param[container]"), s("nginx"));
    assert_eq!(h.one(&exec, "kar.uri.param[tty]"), s("false"));
    assert_eq!(
        h.get(&exec, "kar.req.exec.command"),
        v(&["/bin/sh", "-c", "id"])
    );
    assert_eq!(h.one(&exec, "kar.req.exec.container"), s("nginx"));
    assert_eq!(h.one(&exec, "kar.req.exec.tty"), s("false"));
    assert_eq!(h.one(&exec, "kar.req.exec.stdin"), s("true"));
    assert_eq!(h.one(&exec, "kar.target.subresource"), s("exec"));
    assert_eq!(h.one(&exec, "kar.target.pod.name"), s("nginx"));
    assert_eq!(h.one(&exec, "kar.req.portforward.ports"), None);
    assert_eq!(h.one(&exec, "kar.req.proxy.path"), None);
    assert_eq!(h.one(&exec, "kar.req.field_manager"), None);
    assert_eq!(
        h.one(&create, "kar.uri.param[fieldManager]"),
        s("kubectl-client-side-apply")
    );
    assert_eq!(h.one(&create, "kar.uri.param[command]"), None);
    assert_eq!(h.get(&create, "kar.req.exec.command"), None);
}

#[test]
fn portforward_and_proxy_connects() {
    let mut h = Host::new("{}");
    let connect = |sub: &str, resource: &str, ns: &str, object: &str| {
        review(&format!(
            r#""kind":{{"group":"","version":"v1","kind":"X"}},"resource":{{"group":"","version":"v1","resource":"{resource}"}},"subResource":"{sub}","name":"n1",{ns}"operation":"CONNECT","userInfo":{{"username":"bob"}},"object":{object},"oldObject":null,"options":null"#
        ))
    };
    let pf = h.event(&connect(
        "portforward",
        "pods",
        r#""namespace":"data","#,
        r#"{"kind":"PodPortForwardOptions","ports":[8080,5432]}"#,
    ));
    assert_eq!(
        h.get(&pf, "kar.req.portforward.ports"),
        v(&["8080", "5432"])
    );
    assert_eq!(h.get(&pf, "kar.req.exec.command"), None);
    let np = h.event(&connect(
        "proxy",
        "nodes",
        "",
        r#"{"kind":"NodeProxyOptions","path":"/exec/default/nginx/nginx"}"#,
    ));
    assert_eq!(
        h.one(&np, "kar.req.proxy.path"),
        s("/exec/default/nginx/nginx")
    );
    assert_eq!(h.one(&np, "kar.uri"), s("/api/v1/nodes/n1/proxy"));
    assert_eq!(h.one(&np, "kar.target.pod.name"), None);
    assert_eq!(h.get(&np, "kar.req.portforward.ports"), None);
}

#[test]
fn pod_level_settings() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"hostNetwork":true,"hostPID":false,"securityContext":{"runAsUser":0,"runAsGroup":0,"fsGroup":2000,"supplementalGroups":[1000,3000]},"serviceAccountName":"builder","containers":[{"name":"a","image":"x"}]}"#,
    ));
    assert_eq!(
        h.one(&e, "kar.req.pod.spec_path"),
        s("/request/object/spec")
    );
    assert_eq!(h.one(&e, "kar.req.pod.host_network"), s("true"));
    assert_eq!(h.one(&e, "kar.req.container.host_network"), s("true"));
    assert_eq!(h.one(&e, "kar.req.pod.host_pid"), s("false"));
    assert_eq!(h.one(&e, "kar.req.pod.host_ipc"), None);
    assert_eq!(h.one(&e, "kar.req.pod.run_as_user"), s("0"));
    assert_eq!(h.one(&e, "kar.req.pod.run_as_group"), s("0"));
    assert_eq!(h.one(&e, "kar.req.pod.fs_group"), s("2000"));
    assert_eq!(
        h.get(&e, "kar.req.pod.supplemental_groups"),
        v(&["1000", "3000"])
    );
    assert_eq!(h.one(&e, "kar.req.pod.service_account"), s("builder"));
}

#[test]
fn containers_images_security_contexts_and_eff_run_as() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"securityContext":{"runAsUser":2000},"containers":[
            {"name":"app","image":"registry:5000/team/app:1.2@sha256:abcd","command":["/app","--serve"],"args":["-v","2"],"securityContext":{"privileged":true,"runAsUser":1001,"runAsGroup":5,"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"procMount":"Unmasked","capabilities":{"add":["NET_ADMIN","SYS_ADMIN"]}},"ports":[{"containerPort":80,"hostPort":8080},{"containerPort":443}]},
            {"name":"side","image":"busybox"},
            {"image":"ghcr.io/org/tool@sha256:ff","securityContext":{"capabilities":{"add":["SYS_PTRACE"]}}}],
          "initContainers":[{"name":"init","image":"alpine:3","securityContext":{"privileged":true,"runAsGroup":7}}]}"#,
    ));
    let c = "kar.req.pod.containers";
    assert_eq!(h.get(&e, &format!("{c}.name")), v(&["app", "side"]));
    assert_eq!(h.get(&e, &format!("{c}.name[1]")), v(&["side"]));
    assert_eq!(h.get(&e, &format!("{c}.name[2]")), None);
    assert_eq!(h.get(&e, &format!("{c}.name[9]")), None);
    assert_eq!(
        h.get(&e, &format!("{c}.image")),
        v(&[
            "registry:5000/team/app:1.2@sha256:abcd",
            "busybox",
            "ghcr.io/org/tool@sha256:ff"
        ])
    );
    assert_eq!(
        h.get(&e, &format!("{c}.image.repository")),
        v(&["registry:5000/team/app", "busybox", "ghcr.io/org/tool"])
    );
    assert_eq!(h.get(&e, &format!("{c}.command")), v(&["/app --serve"]));
    assert_eq!(h.get(&e, &format!("{c}.args")), v(&["-v 2"]));
    assert_eq!(h.get(&e, &format!("{c}.host_port")), v(&["8080"]));
    assert_eq!(h.get(&e, &format!("{c}.privileged")), v(&["true"]));
    assert_eq!(h.get(&e, &format!("{c}.privileged[1]")), None);
    assert_eq!(
        h.get(&e, &format!("{c}.allow_privilege_escalation")),
        v(&["false"])
    );
    assert_eq!(h.get(&e, &format!("{c}.read_only_fs")), v(&["true"]));
    assert_eq!(h.get(&e, &format!("{c}.run_as_user")), v(&["1001"]));
    assert_eq!(
        h.get(&e, &format!("{c}.eff_run_as_user")),
        v(&["1001", "2000", "2000"])
    );
    assert_eq!(h.get(&e, &format!("{c}.run_as_group")), v(&["5"]));
    assert_eq!(
        h.get(&e, &format!("{c}.eff_run_as_group")),
        v(&["5", "0", "0"])
    );
    assert_eq!(h.get(&e, &format!("{c}.proc_mount")), v(&["Unmasked"]));
    assert_eq!(
        h.get(&e, &format!("{c}.add_capabilities")),
        v(&["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"])
    );
    assert_eq!(
        h.get(&e, &format!("{c}.add_capabilities[2]")),
        v(&["SYS_PTRACE"])
    );
    assert_eq!(h.get(&e, &format!("{c}.add_capabilities[1]")), None);
    let i = "kar.req.pod.initContainers";
    assert_eq!(h.get(&e, &format!("{i}.name")), v(&["init"]));
    assert_eq!(h.get(&e, &format!("{i}.privileged")), v(&["true"]));
    assert_eq!(h.get(&e, &format!("{i}.image.repository")), v(&["alpine"]));
    assert_eq!(h.get(&e, &format!("{i}.eff_run_as_user")), v(&["2000"]));
    assert_eq!(h.get(&e, &format!("{i}.eff_run_as_group")), v(&["7"]));
    assert_eq!(h.get(&e, "kar.req.pod.ephemeralContainers.name"), None);
    assert_eq!(
        h.one(&e, "kar.req.container.image"),
        s("registry:5000/team/app:1.2@sha256:abcd")
    );
    assert_eq!(
        h.one(&e, "kar.req.container.image.repository"),
        s("registry:5000/team/app")
    );
    assert_eq!(h.one(&e, "kar.req.container.privileged"), s("true"));
}

#[test]
fn absent_security_contexts_fall_back_to_zero() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"containers":[{"name":"a","image":"nginx:1.25"},{"name":"b","image":"nginx"}]}"#,
    ));
    let c = "kar.req.pod.containers";
    assert_eq!(h.get(&e, &format!("{c}.privileged")), None);
    assert_eq!(h.get(&e, &format!("{c}.run_as_user")), None);
    assert_eq!(h.get(&e, &format!("{c}.eff_run_as_user")), v(&["0", "0"]));
    assert_eq!(h.get(&e, &format!("{c}.eff_run_as_group[1]")), v(&["0"]));
    assert_eq!(h.get(&e, &format!("{c}.add_capabilities")), None);
    assert_eq!(h.one(&e, "kar.req.container.privileged"), s("false"));
    assert_eq!(h.one(&e, "kar.req.pod.run_as_user"), None);
}

#[test]
fn host_ports_under_host_network() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"hostNetwork":true,"containers":[{"name":"a","ports":[{"containerPort":9090},{"containerPort":53,"hostPort":5353}]}],"initContainers":[{"name":"i","ports":[{"containerPort":7}]}]}"#,
    ));
    assert_eq!(
        h.get(&e, "kar.req.pod.containers.host_port"),
        v(&["9090", "5353"])
    );
    assert_eq!(h.get(&e, "kar.req.pod.initContainers.host_port"), v(&["7"]));
}

#[test]
fn workload_templates_and_cronjobs() {
    let mut h = Host::new("{}");
    let template = r#"{"hostPID":true,"containers":[{"name":"c","image":"img:1","securityContext":{"privileged":true}}]}"#;
    // Kinds whose pod spec is at /spec/template/spec, then the two that differ.
    let in_template = format!(r#"{{"spec":{{"template":{{"spec":{template}}}}}}}"#);
    let template_kinds = [
        ("apps", "Deployment", "deployments"),
        ("apps", "DaemonSet", "daemonsets"),
        ("apps", "StatefulSet", "statefulsets"),
        ("apps", "ReplicaSet", "replicasets"),
        ("", "ReplicationController", "replicationcontrollers"),
        ("batch", "Job", "jobs"),
        ("extensions", "DaemonSet", "daemonsets"),
    ];
    let mut cases: Vec<_> = template_kinds
        .into_iter()
        .map(|(g, k, r)| {
            (
                g,
                k,
                r,
                in_template.clone(),
                "/request/object/spec/template/spec",
            )
        })
        .collect();
    cases.push((
        "batch",
        "CronJob",
        "cronjobs",
        format!(r#"{{"spec":{{"jobTemplate":{in_template}}}}}"#),
        "/request/object/spec/jobTemplate/spec/template/spec",
    ));
    cases.push((
        "",
        "PodTemplate",
        "podtemplates",
        format!(r#"{{"template":{{"spec":{template}}}}}"#),
        "/request/object/template/spec",
    ));
    for (group, kind, resource, object, path) in cases {
        let e = h.event(
            &Req {
                group,
                kind,
                resource,
                namespace: Some("ns"),
                name: "w",
                object: &object,
                ..Req::default()
            }
            .json(),
        );
        assert_eq!(h.one(&e, "kar.req.pod.spec_path"), s(path), "{kind}");
        assert_eq!(h.one(&e, "kar.req.pod.host_pid"), s("true"), "{kind}");
        assert_eq!(
            h.get(&e, "kar.req.pod.containers.privileged"),
            v(&["true"]),
            "{kind}"
        );
        assert_eq!(
            h.get(&e, "kar.req.pod.containers.image.repository"),
            v(&["img"]),
            "{kind}"
        );
        assert_eq!(h.one(&e, "kar.target.pod.name"), None, "{kind}");
    }
    // An unknown kind with the same shape has no pod spec, unless configured.
    let rollout = Req {
        group: "argoproj.io",
        version: "v1alpha1",
        kind: "Rollout",
        resource: "rollouts",
        namespace: Some("ns"),
        name: "r",
        object: &format!(r#"{{"spec":{{"template":{{"spec":{template}}}}}}}"#),
        ..Req::default()
    }
    .json();
    let e = h.event(&rollout);
    assert_eq!(h.one(&e, "kar.req.pod.host_pid"), None);
    assert_eq!(h.one(&e, "kar.req.pod.spec_path"), None);
    let mut configured =
        Host::new(r#"{"podSpecPaths":{"argoproj.io/Rollout":"/spec/template/spec"}}"#);
    let e = configured.event(&rollout);
    assert_eq!(configured.one(&e, "kar.req.pod.host_pid"), s("true"));
    assert_eq!(
        configured.one(&e, "kar.req.pod.spec_path"),
        s("/request/object/spec/template/spec")
    );
}

#[test]
fn volumes_hostpaths_and_writable_mounts() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"containers":[{"name":"a","volumeMounts":[{"name":"root","mountPath":"/host","readOnly":true},{"name":"sock","mountPath":"/var/run/docker.sock"},{"name":"tok","mountPath":"/t"}]}],
           "initContainers":[{"name":"i","volumeMounts":[{"name":"etc","mountPath":"/e","readOnly":false}]}],
           "volumes":[{"name":"root","hostPath":{"path":"/","type":""}},{"name":"sock","hostPath":{"path":"/var/run/docker.sock"}},{"name":"etc","hostPath":{"path":"/etc"}},{"name":"tok","projected":{"sources":[]}},{"name":"flex","flexVolume":{"driver":"example/lvm"}},{"name":"unused","hostPath":{"path":"/var/lib/kubelet"}}]}"#,
    ));
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.hostpath"),
        v(&["/", "/var/run/docker.sock", "/etc", "/var/lib/kubelet"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.hostpath[1]"),
        v(&["/var/run/docker.sock"])
    );
    assert_eq!(h.get(&e, "kar.req.pod.volumes.hostpath[3]"), None);
    assert_eq!(h.get(&e, "kar.req.pod.volumes.hostpath[99]"), None);
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.hostpath_writable"),
        v(&["/var/run/docker.sock", "/etc"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.flexvolume_driver"),
        v(&["example/lvm"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.volume_type"),
        v(&[
            "hostPath",
            "hostPath",
            "hostPath",
            "projected",
            "flexVolume",
            "hostPath"
        ])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.volume_type[3]"),
        v(&["projected"])
    );
    assert_eq!(h.one(&e, "kar.req.volume.hostpath[/etc]"), s("true"));
    assert_eq!(h.one(&e, "kar.req.volume.hostpath[/var/run/*]"), s("true"));
    assert_eq!(h.one(&e, "kar.req.volume.hostpath[/proc]"), s("false"));
    assert_eq!(h.one(&e, "kar.req.volume.hostpath[/et]"), s("false"));
    let none = h.event(&pod(r#"{"containers":[{"name":"a"}]}"#));
    assert_eq!(h.one(&none, "kar.req.volume.hostpath[/etc]"), s("false"));
    let cm = h.event(
        &Req {
            kind: "ConfigMap",
            resource: "configmaps",
            namespace: Some("d"),
            name: "c",
            object: r#"{"data":{}}"#,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.one(&cm, "kar.req.volume.hostpath[/etc]"), None);
}

#[test]
fn update_shows_what_was_added() {
    let mut h = Host::new("{}");
    let old = r#"{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"web:1"}],"volumes":[]}}}}"#;
    let new = r#"{"metadata":{"name":"web"},"spec":{"template":{"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"web:2","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}}}],"volumes":[{"name":"h","hostPath":{"path":"/"}}]}}}}"#;
    let e = h.event(
        &Req {
            op: "UPDATE",
            group: "apps",
            kind: "Deployment",
            resource: "deployments",
            namespace: Some("default"),
            name: "web",
            object: new,
            old_object: old,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.one(&e, "kar.req.pod.host_network"), s("true"));
    assert_eq!(h.one(&e, "kar.req.oldpod.host_network"), None);
    assert_eq!(h.get(&e, "kar.req.pod.containers.privileged"), v(&["true"]));
    assert_eq!(h.get(&e, "kar.req.oldpod.containers.privileged"), None);
    assert_eq!(h.get(&e, "kar.req.oldpod.containers.image"), v(&["web:1"]));
    assert_eq!(
        h.get(&e, "kar.req.oldpod.containers.add_capabilities"),
        None
    );
    assert_eq!(h.get(&e, "kar.req.oldpod.volumes.hostpath"), None);
    assert_eq!(h.get(&e, "kar.req.pod.volumes.hostpath"), v(&["/"]));
}

#[test]
fn ephemeral_containers_added_by_kubectl_debug() {
    let mut h = Host::new("{}");
    let old = r#"{"metadata":{"name":"nginx"},"spec":{"containers":[{"name":"nginx"}],"ephemeralContainers":[{"name":"debugger-old","image":"busybox"}]}}"#;
    let new = r#"{"metadata":{"name":"nginx"},"spec":{"containers":[{"name":"nginx"}],"ephemeralContainers":[{"name":"debugger-old","image":"busybox"},{"name":"debugger-new","image":"busybox:1.36","targetContainerName":"nginx","securityContext":{"privileged":true}}]}}"#;
    let json = Req {
        op: "UPDATE",
        kind: "Pod",
        resource: "pods",
        namespace: Some("default"),
        name: "nginx",
        object: new,
        old_object: old,
        ..Req::default()
    }
    .json()
    .replace(
        r#""name":"nginx","namespace""#,
        r#""subResource":"ephemeralcontainers","name":"nginx","namespace""#,
    );
    let e = h.event(&json);
    assert_eq!(
        h.get(&e, "kar.req.pod.ephemeralContainers.added"),
        v(&["debugger-new"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.ephemeralContainers.name"),
        v(&["debugger-old", "debugger-new"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.ephemeralContainers.privileged[1]"),
        v(&["true"])
    );
    assert_eq!(
        h.get(&e, "kar.req.pod.ephemeralContainers.image.repository"),
        v(&["busybox", "busybox"])
    );
    assert_eq!(
        h.one(&e, "kar.target.subresource"),
        s("ephemeralcontainers")
    );
    assert_eq!(h.one(&e, "kar.target.pod.name"), s("nginx"));
    assert_eq!(
        h.one(&e, "kar.uri"),
        s("/api/v1/namespaces/default/pods/nginx/ephemeralcontainers")
    );
    let created = h.event(
        &Req {
            kind: "Pod",
            resource: "pods",
            namespace: Some("default"),
            name: "nginx",
            object: new,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(
        h.get(&created, "kar.req.pod.ephemeralContainers.added"),
        v(&["debugger-old", "debugger-new"])
    );
}

#[test]
fn delete_has_no_object_fields() {
    let mut h = Host::new("{}");
    let e = h.event(&Req {op: "DELETE", kind: "Pod", resource: "pods", namespace: Some("default"), name: "gone", old_object: r#"{"metadata":{"name":"gone"},"spec":{"hostPID":true,"containers":[{"name":"c"}]}}"#, ..Req::default() }.json());
    assert_eq!(h.one(&e, "kar.verb"), s("DELETE"));
    assert_eq!(h.one(&e, "kar.req.pod.host_pid"), None);
    assert_eq!(h.get(&e, "kar.req.pod.containers.name"), None);
    assert_eq!(h.one(&e, "kar.req.oldpod.host_pid"), s("true"));
    assert_eq!(h.one(&e, "kar.target.pod.name"), s("gone"));
    assert_eq!(h.one(&e, "kar.resp.name"), s("gone"));
    assert_eq!(
        h.one(&e, "kar.uri"),
        s("/api/v1/namespaces/default/pods/gone")
    );
    assert_eq!(h.one(&e, "kar.value[/request/object]"), None);
    assert_eq!(
        h.one(&e, "kar.value[/request/oldObject/spec/hostPID]"),
        s("true")
    );
}

#[test]
fn rbac_bindings_and_roles() {
    let mut h = Host::new("{}");
    let crb = h.event(&Req {group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding", resource: "clusterrolebindings", name: "mallory-admin", object: r#"{"metadata":{"name":"mallory-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"mallory"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:masters"},{"kind":"ServiceAccount","name":"deployer","namespace":"ci"},{"kind":"ServiceAccount","name":"nons"}]}"#, ..Req::default() }.json());
    assert_eq!(
        h.get(&crb, "kar.req.binding.subjects"),
        v(&[
            r#"{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"mallory"}"#,
            r#"{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"system:masters"}"#,
            r#"{"kind":"ServiceAccount","name":"deployer","namespace":"ci"}"#,
            r#"{"kind":"ServiceAccount","name":"nons"}"#,
        ])
    );
    assert_eq!(
        h.get(&crb, "kar.req.binding.subjects.user_names"),
        v(&["mallory"])
    );
    assert_eq!(
        h.get(&crb, "kar.req.binding.subjects.group_names"),
        v(&["system:masters"])
    );
    assert_eq!(
        h.get(&crb, "kar.req.binding.subjects.serviceaccount_names"),
        v(&["deployer", "nons"])
    );
    assert_eq!(
        h.get(&crb, "kar.req.binding.subjects.serviceaccount_ns_names"),
        v(&["ci:deployer"])
    );
    assert_eq!(h.one(&crb, "kar.req.binding.role"), s("cluster-admin"));
    assert_eq!(h.one(&crb, "kar.req.binding.role_kind"), s("ClusterRole"));
    assert_eq!(
        h.one(&crb, "kar.req.binding.subject.has_name[mallory]"),
        s("true")
    );
    assert_eq!(
        h.one(&crb, "kar.req.binding.subject.has_name[eve]"),
        s("false")
    );
    assert_eq!(h.get(&crb, "kar.req.role.rules"), None);

    let role = h.event(&Req {group: "rbac.authorization.k8s.io", kind: "ClusterRole", resource: "clusterroles", name: "r", object: r#"{"metadata":{"name":"r"},"rules":[{"verbs":["create","get"],"apiGroups":[""],"resources":["pods/exec"]},{"verbs":["get"],"nonResourceURLs":["/metrics"]},{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]}"#, ..Req::default() }.json());
    assert_eq!(
        h.get(&role, "kar.req.role.rules"),
        v(&[
            r#"{"verbs":["create","get"],"apiGroups":[""],"resources":["pods/exec"]}"#,
            r#"{"verbs":["get"],"nonResourceURLs":["/metrics"]}"#,
            r#"{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}"#,
        ])
    );
    assert_eq!(h.get(&role, "kar.req.role.rules.apiGroups"), v(&["", "*"]));
    assert_eq!(h.get(&role, "kar.req.role.rules.apiGroups[0]"), v(&[""]));
    assert_eq!(
        h.get(&role, "kar.req.role.rules.verbs"),
        v(&["create", "get", "get", "*"])
    );
    assert_eq!(h.get(&role, "kar.req.role.rules.verbs[2]"), v(&["*"]));
    assert_eq!(
        h.get(&role, "kar.req.role.rules.resources"),
        v(&["pods/exec", "*"])
    );
    assert_eq!(
        h.get(&role, "kar.req.role.rules.nonResourceURLs"),
        v(&["/metrics"])
    );
    assert_eq!(h.get(&role, "kar.req.role.rules.nonResourceURLs[0]"), None);
    assert_eq!(h.get(&role, "kar.req.role.rules.verbs[3]"), None);
    assert_eq!(h.get(&role, "kar.req.binding.subjects"), None);
    assert_eq!(h.one(&role, "kar.req.binding.subject.has_name[r]"), None);
}

#[test]
fn configmaps_but_never_secrets() {
    let mut h = Host::new(r#"{"redactSecrets": false}"#);
    let cm = h.event(&Req {kind: "ConfigMap", resource: "configmaps", namespace: Some("apps"), object: r#"{"metadata":{"generateName":"cfg-","name":"cfg-x1"},"data":{"password":"hunter2","aws_access_key_id":"AKIA<&>/\"q\""},"binaryData":{"b":"AAE="}}"#, ..Req::default() }.json());
    assert_eq!(h.one(&cm, "kar.req.configmap.name"), s("cfg-x1"));
    assert_eq!(h.one(&cm, "kar.target.name"), s("cfg-x1"));
    let data = r#"{"password":"hunter2","aws_access_key_id":"AKIA<&>/\"q\""}"#;
    assert_eq!(h.one(&cm, "kar.req.configmap.data"), s(data));
    assert_eq!(h.one(&cm, "kar.req.configmap.obj"), s(data));
    assert_eq!(
        h.one(&cm, "kar.req.configmap.binary_data"),
        s(r#"{"b":"AAE="}"#)
    );
    assert_eq!(
        h.one(&cm, "kar.uri"),
        s("/api/v1/namespaces/apps/configmaps")
    );
    let secret = h.event(
        &Req {
            kind: "Secret",
            resource: "secrets",
            namespace: Some("apps"),
            name: "s",
            object: r#"{"metadata":{"name":"s"},"data":{"password":"aHVudGVyMg=="}}"#,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.one(&secret, "kar.req.configmap.data"), None);
    assert_eq!(h.one(&secret, "kar.req.configmap.obj"), None);
    assert_eq!(h.one(&secret, "kar.req.configmap.name"), None);
}

#[test]
fn services() {
    let mut h = Host::new("{}");
    let e = h.event(&Req {kind: "Service", resource: "services", namespace: Some("default"), name: "web", object: r#"{"spec":{"type":"NodePort","ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080},{"name":"https","port":443,"targetPort":"https","nodePort":30443}]}}"#, ..Req::default() }.json());
    assert_eq!(h.one(&e, "kar.req.service.type"), s("NodePort"));
    assert_eq!(
        h.get(&e, "kar.req.service.ports"),
        v(&[
            r#"{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}"#,
            r#"{"name":"https","port":443,"targetPort":"https","nodePort":30443}"#,
        ])
    );
    assert_eq!(
        h.get(&e, "kar.req.service.ports[1]"),
        v(&[r#"{"name":"https","port":443,"targetPort":"https","nodePort":30443}"#])
    );
    assert_eq!(h.get(&e, "kar.req.service.ports[2]"), None);
    let p = h.event(&pod("{}"));
    assert_eq!(h.one(&p, "kar.req.service.type"), None);
}

#[test]
fn json_pointer_values() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"containers":[{"name":"a","image":"x"}],"nodeSelector":{"kubernetes.io/os":"linux","a~b":"tilde"},"tolerations":[],"overhead":{}}"#,
    ));
    let val = |h: &mut Host, p: &str| h.one(&e, &format!("kar.value[{p}]"));
    assert_eq!(
        val(&mut h, "/request/object/spec/containers/0/name"),
        s("a")
    );
    assert_eq!(
        val(
            &mut h,
            "/request/object/spec/nodeSelector/kubernetes.io~1os"
        ),
        s("linux")
    );
    assert_eq!(
        val(&mut h, "/request/object/spec/nodeSelector/a~0b"),
        s("tilde")
    );
    assert_eq!(val(&mut h, "/request/object/spec/tolerations"), s("[]"));
    assert_eq!(val(&mut h, "/request/object/spec/overhead"), s("{}"));
    assert_eq!(
        val(&mut h, "/request/object/spec/containers/0"),
        s(r#"{"name":"a","image":"x"}"#)
    );
    assert_eq!(val(&mut h, "/request/dryRun"), s("false"));
    assert_eq!(val(&mut h, "/request/oldObject"), None);
    assert_eq!(val(&mut h, "/request/object/spec/containers/1"), None);
    assert_eq!(val(&mut h, "/request/object/spec/containers/01"), None);
    assert_eq!(val(&mut h, "/request/nothing"), None);
    assert_eq!(val(&mut h, "/request/object/spec/nodeSelector/a~2b"), None);
    assert_eq!(val(&mut h, "no-slash"), None);
}

#[test]
fn obj_is_the_payload() {
    let mut h = Host::new("{}");
    let json = pod(r#"{"containers":[]}"#);
    let e = h.event(&json);
    assert_eq!(h.one(&e, "kar.obj"), Some(json));
    assert_eq!(h.get(&e, "kar.req.pod.containers.name"), None);
}

#[test]
fn invalid_events_give_no_value_and_are_counted_once() {
    let mut h = Host::new("{}");
    for bad in [
        r#"{"not":"a review"}"#,
        r#"{"request":{"uid":""}}"#,
        r#"{"request":{"uid":"x""#,
    ] {
        let e = h.event(bad);
        assert_eq!(h.one(&e, "kar.uid"), None);
        assert_eq!(h.one(&e, "kar.obj"), None);
        assert_eq!(h.one(&e, "kar.auth.decision"), None);
        assert_eq!(h.one(&e, "kar.value[/not]"), None);
    }
    assert_eq!(h.metric("events_unparsable"), 3);
}

#[test]
fn wrong_shapes_never_fail_extraction() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"hostNetwork":"yes","containers":"nginx","initContainers":{"name":"x"},"volumes":[null,7,{"name":"v","hostPath":"oops"}],"securityContext":[]}"#,
    ));
    assert_eq!(h.one(&e, "kar.req.pod.host_network"), s("yes"));
    assert_eq!(h.get(&e, "kar.req.pod.containers.name"), None);
    assert_eq!(h.get(&e, "kar.req.pod.initContainers.privileged"), None);
    assert_eq!(h.get(&e, "kar.req.pod.volumes.hostpath"), None);
    assert_eq!(
        h.get(&e, "kar.req.pod.volumes.volume_type"),
        v(&["hostPath"])
    );
    assert_eq!(h.one(&e, "kar.req.pod.run_as_user"), None);
    assert_eq!(h.get(&e, "kar.req.pod.supplemental_groups"), None);
    let weird_user = h.event(&review(r#""operation":7,"userInfo":{"username":["a"],"groups":["g",null,"",{"x":1}]},"dryRun":"maybe""#));
    assert_eq!(h.one(&weird_user, "kar.verb"), s("7"));
    assert_eq!(h.one(&weird_user, "kar.user.name"), None);
    assert_eq!(h.get(&weird_user, "kar.user.groups"), v(&["g", ""]));
    assert_eq!(h.one(&weird_user, "kar.dry_run"), s("maybe"));
}

#[test]
fn nul_and_escapes_in_values() {
    let mut h = Host::new("{}");
    let e = h.event(&pod(
        r#"{"containers":[{"name":"app\u0000evil","image":"caf\u00e9\/x"}]}"#,
    ));
    assert_eq!(
        h.get(&e, "kar.req.pod.containers.name"),
        v(&["app\u{FFFD}evil"])
    );
    assert_eq!(h.get(&e, "kar.req.pod.containers.image"), v(&["café/x"]));
    assert_eq!(
        h.one(&e, "kar.value[/request/object/spec/containers/0]"),
        s("{\"name\":\"app\\u0000evil\",\"image\":\"café/x\"}")
    );
}

#[test]
fn index_arguments_count_every_element_of_the_collection() {
    let mut h = Host::new("{}");
    let e = h.event(
        &Req {
            kind: "Service",
            resource: "services",
            namespace: Some("default"),
            name: "web",
            object: r#"{"spec":{"type":"ClusterIP","ports":[null,{"port":80},""]}}"#,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.get(&e, "kar.req.service.ports[0]"), None);
    assert_eq!(
        h.get(&e, "kar.req.service.ports[1]"),
        v(&[r#"{"port":80}"#])
    );
    assert_eq!(h.get(&e, "kar.req.service.ports[2]"), v(&[""]));
    assert_eq!(
        h.get(&e, "kar.req.service.ports"),
        v(&[r#"{"port":80}"#, ""])
    );
    let p = h.event(&pod(
        r#"{"securityContext":{"runAsUser":1000},"containers":[null,{"name":"a"},{"name":"b","securityContext":{"runAsUser":7}}]}"#,
    ));
    assert_eq!(
        h.get(&p, "kar.req.pod.containers.eff_run_as_user"),
        v(&["1000", "7"])
    );
    assert_eq!(h.get(&p, "kar.req.pod.containers.eff_run_as_user[0]"), None);
    assert_eq!(
        h.get(&p, "kar.req.pod.containers.eff_run_as_user[2]"),
        v(&["7"])
    );
}

#[test]
fn uri_falls_back_to_resource_when_request_resource_is_incomplete() {
    let mut h = Host::new("{}");
    let e = h.event(&review(
        r#""kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"requestResource":{"group":""},"name":"web","namespace":"default","operation":"DELETE","userInfo":{"username":"alice"},"object":null,"oldObject":{"metadata":{"name":"web"}}"#,
    ));
    assert_eq!(
        h.one(&e, "kar.uri"),
        s("/api/v1/namespaces/default/pods/web")
    );
}

#[test]
fn integers_beyond_64_bits_keep_the_event_valid() {
    let mut h = Host::new(r#"{"podSpecPaths":{"example.com/Thing":"/spec/template/spec"}}"#);
    let object = r#"{"spec":{"replicas":100000000000000000000,"floor":-9223372036854775809,"min":-9223372036854775808,"beyond":-170141183460469231731687303715884105729,"template":{"spec":{"hostPID":true}}}}"#;
    let e = h.event(
        &Req {
            group: "example.com",
            kind: "Thing",
            resource: "things",
            namespace: Some("default"),
            name: "t",
            object,
            ..Req::default()
        }
        .json(),
    );
    assert_eq!(h.one(&e, "kar.req.pod.host_pid"), s("true"));
    let value = |h: &mut Host, member: &str| {
        h.one(&e, &format!("kar.value[/request/object/spec/{member}]"))
    };
    // Within 128 bits: as written.
    assert_eq!(value(&mut h, "replicas"), s("100000000000000000000"));
    assert_eq!(value(&mut h, "floor"), s("-9223372036854775809"));
    assert_eq!(value(&mut h, "min"), s("-9223372036854775808"));
    // Beyond (here just below i128::MIN, which simd-json itself refuses): a float.
    assert_eq!(value(&mut h, "beyond"), s("-1.7014118346046923e38"));
}

#[test]
fn deeply_nested_values_give_no_text_and_no_crash() {
    let mut h = Host::new("{}");
    let deep = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
    let e = h.event(&pod(&format!(r#"{{"deep":{deep},"hostPID":true}}"#)));
    assert_eq!(h.one(&e, "kar.value[/request/object/spec/deep]"), None);
    assert_eq!(h.one(&e, "kar.req.pod.host_pid"), s("true"));
}
