//! The kar.* field table (SPEC §4): one line per field, each a small function of the review.

pub mod pod;
pub mod rbac;
pub mod request;
pub mod resources;
pub mod volume;

use crate::admission::K8sAdmission;
use crate::json::c_string;
use crate::review::Text;
use falco_plugin::anyhow::Error;
use falco_plugin::extract::{field, ExtractFieldInfo, ExtractRequest};
use pod::{first_container, per_container, pod_value, Which};
use request::{never, never_list, req, req_list};
use std::ffi::{CStr, CString};
use volume::per_volume;

pub use request::summary;

fn index(i: Option<u64>) -> Option<usize> {
    i.map(|i| usize::try_from(i).unwrap_or(usize::MAX))
}

fn texts(values: Vec<Text<'_>>) -> Vec<CString> {
    values.iter().map(|t| c_string(t)).collect()
}

/// Declares the extractor functions and the table. Kinds: `text` (string), `list` (string list),
/// `list_idx` (string list, optional index), `text_key` / `list_key` (required key).
macro_rules! kar_fields {
    ($( $ident:ident : $name:literal => $kind:ident($f:expr), $desc:literal; )*) => {
        $( kar_fields!(@fn $kind $ident $f); )*

        /// Every kar.* field, in the order Falco lists them.
        pub const FIELDS: &[ExtractFieldInfo<K8sAdmission>] = &[
            $( field($name, &$ident).with_description($desc), )*
        ];
    };
    (@fn text $ident:ident $f:expr) => {
        fn $ident(p: &mut K8sAdmission, r: ExtractRequest<K8sAdmission>) -> Result<Option<CString>, Error> {
            Ok(p.with_review(&r, |rv| ($f)(rv).map(|t: Text| c_string(&t))))
        }
    };
    (@fn list $ident:ident $f:expr) => {
        fn $ident(p: &mut K8sAdmission, r: ExtractRequest<K8sAdmission>) -> Result<Vec<CString>, Error> {
            Ok(p.with_review(&r, |rv| texts(($f)(rv))))
        }
    };
    (@fn list_idx $ident:ident $f:expr) => {
        fn $ident(p: &mut K8sAdmission, r: ExtractRequest<K8sAdmission>, i: Option<u64>) -> Result<Vec<CString>, Error> {
            Ok(p.with_review(&r, |rv| texts(($f)(rv, index(i)))))
        }
    };
    (@fn text_key $ident:ident $f:expr) => {
        fn $ident(p: &mut K8sAdmission, r: ExtractRequest<K8sAdmission>, key: &CStr) -> Result<Option<CString>, Error> {
            let key = key.to_string_lossy();
            Ok(p.with_review(&r, |rv| ($f)(rv, &key).map(|t: Text| c_string(&t))))
        }
    };
    (@fn list_key $ident:ident $f:expr) => {
        fn $ident(p: &mut K8sAdmission, r: ExtractRequest<K8sAdmission>, key: &CStr) -> Result<Vec<CString>, Error> {
            let key = key.to_string_lossy();
            Ok(p.with_review(&r, |rv| texts(($f)(rv, &key))))
        }
    };
}

kar_fields! {
    uid: "kar.uid" => text(|r| req(r, &["uid"])), "The UID of the admission request (request.uid): one apiserver-to-webhook call.";
    auditid: "kar.auditid" => text(request::audit_id), "The top-level auditID a producer injected, else the request UID (admission requests carry no audit ID).";
    timestamp: "kar.timestamp" => text(request::timestamp), "The requestReceivedTimestamp of the review (RFC 3339), as injected by kube-audit-rest or the webhook.";
    dry_run: "kar.dry_run" => text(|r| req(r, &["dryRun"])), "true when the request is a dry run (request.dryRun).";
    stage: "kar.stage" => text(never), "Always empty: admission happens before every audit stage (k8saudit compatibility).";
    auth_decision: "kar.auth.decision" => text(request::auth_decision), "Always allow: a webhook only sees authorized requests (k8saudit compatibility).";
    auth_reason: "kar.auth.reason" => text(never), "Always empty: admission requests carry no authorization reason (k8saudit compatibility).";
    user_name: "kar.user.name" => text(|r| req(r, &["userInfo", "username"])), "The user name of the requester (request.userInfo.username).";
    user_uid: "kar.user.uid" => text(|r| req(r, &["userInfo", "uid"])), "The UID of the requester (request.userInfo.uid).";
    user_groups: "kar.user.groups" => list(|r| req_list(r, &["userInfo", "groups"])), "The groups of the requester (request.userInfo.groups).";
    user_extra: "kar.user.extra" => list_key(request::user_extra), "An extra attribute of the requester, e.g. kar.user.extra[authentication.kubernetes.io/credential-id].";
    impuser_name: "kar.impuser.name" => text(never), "Always empty: admission's userInfo is already the impersonated identity (k8saudit compatibility).";
    verb: "kar.verb" => text(|r| req(r, &["operation"])), "The operation: CREATE, UPDATE, DELETE or CONNECT (request.operation).";
    uri: "kar.uri" => text(request::uri), "The request path, reconstructed from the resource, namespace, name and subresource (no query string).";
    uri_param: "kar.uri.param" => text_key(request::uri_param), "A request parameter: for CONNECT an option of the connect object (first element of lists, e.g. command), else a member of request.options (dryRun, fieldManager, ...).";
    target_name: "kar.target.name" => text(request::target_name), "The name of the target object (request.name, else object.metadata.name).";
    target_namespace: "kar.target.namespace" => text(|r| req(r, &["namespace"])), "The namespace of the target object (request.namespace).";
    target_resource: "kar.target.resource" => text(|r| req(r, &["resource", "resource"])), "The resource of the target object, e.g. pods (request.resource.resource).";
    target_subresource: "kar.target.subresource" => text(|r| req(r, &["subResource"])), "The subresource, e.g. exec, status, ephemeralcontainers (request.subResource).";
    target_pod_name: "kar.target.pod.name" => text(request::target_pod_name), "For requests on core pods: the pod's name (object, else old object, else request.name; on subresources the object, which may be options, is skipped).";
    req_kind: "kar.req.kind" => text(|r| req(r, &["kind", "kind"])), "The kind of the object (request.kind.kind).";
    req_group: "kar.req.group" => text(|r| req(r, &["kind", "group"])), "The API group of the object (request.kind.group; empty for the core group).";
    req_version: "kar.req.version" => text(|r| req(r, &["kind", "version"])), "The API version of the object (request.kind.version).";
    binding_subjects: "kar.req.binding.subjects" => list(rbac::subjects_json), "The subjects of a (Cluster)RoleBinding, each as JSON text.";
    binding_user_names: "kar.req.binding.subjects.user_names" => list(|r| rbac::subject_names(r, "User")), "The names of the User subjects of a (Cluster)RoleBinding.";
    binding_sa_names: "kar.req.binding.subjects.serviceaccount_names" => list(|r| rbac::subject_names(r, "ServiceAccount")), "The names of the ServiceAccount subjects of a (Cluster)RoleBinding.";
    binding_sa_ns_names: "kar.req.binding.subjects.serviceaccount_ns_names" => list(rbac::serviceaccount_ns_names), "namespace:name of the ServiceAccount subjects of a (Cluster)RoleBinding (subjects without a namespace skipped).";
    binding_group_names: "kar.req.binding.subjects.group_names" => list(|r| rbac::subject_names(r, "Group")), "The names of the Group subjects of a (Cluster)RoleBinding.";
    binding_role: "kar.req.binding.role" => text(|r| rbac::role_ref(r, "name")), "The role a (Cluster)RoleBinding grants (roleRef.name).";
    binding_role_kind: "kar.req.binding.role_kind" => text(|r| rbac::role_ref(r, "kind")), "The kind of the role a (Cluster)RoleBinding grants: Role or ClusterRole (roleRef.kind).";
    binding_has_name: "kar.req.binding.subject.has_name" => text_key(rbac::has_subject_name), "true if a subject of the (Cluster)RoleBinding has this name, else false.";
    role_rules: "kar.req.role.rules" => list(rbac::rules_json), "The rules of a (Cluster)Role, each as JSON text.";
    role_rules_api_groups: "kar.req.role.rules.apiGroups" => list_idx(|r, i| rbac::rule_values(r, "apiGroups", i)), "The apiGroups of the rules of a (Cluster)Role, flattened; [N] = rule N's.";
    role_rules_verbs: "kar.req.role.rules.verbs" => list_idx(|r, i| rbac::rule_values(r, "verbs", i)), "The verbs of the rules of a (Cluster)Role, flattened; [N] = rule N's.";
    role_rules_resources: "kar.req.role.rules.resources" => list_idx(|r, i| rbac::rule_values(r, "resources", i)), "The resources of the rules of a (Cluster)Role, flattened; [N] = rule N's.";
    role_rules_non_resource_urls: "kar.req.role.rules.nonResourceURLs" => list_idx(|r, i| rbac::rule_values(r, "nonResourceURLs", i)), "The nonResourceURLs of the rules of a (Cluster)Role, flattened; [N] = rule N's.";
    configmap_name: "kar.req.configmap.name" => text(resources::configmap_name), "The name of a ConfigMap.";
    configmap_obj: "kar.req.configmap.obj" => text(|r| resources::configmap_member(r, "data")), "The data of a ConfigMap as JSON text (never of a Secret).";
    configmap_data: "kar.req.configmap.data" => text(|r| resources::configmap_member(r, "data")), "The data of a ConfigMap as JSON text (never of a Secret).";
    configmap_binary_data: "kar.req.configmap.binary_data" => text(|r| resources::configmap_member(r, "binaryData")), "The binaryData of a ConfigMap as JSON text.";
    service_type: "kar.req.service.type" => text(resources::service_type), "The type of a Service: ClusterIP, NodePort, LoadBalancer, ExternalName.";
    service_ports: "kar.req.service.ports" => list_idx(resources::service_ports), "The ports of a Service, each as JSON text; [N] = port N.";
    exec_command: "kar.req.exec.command" => list(resources::exec_command), "The command of a CONNECT pods/exec.";
    exec_container: "kar.req.exec.container" => text(|r| resources::exec_value(r, "container")), "The container of a CONNECT pods/exec.";
    exec_tty: "kar.req.exec.tty" => text(|r| resources::exec_value(r, "tty")), "true when a CONNECT pods/exec asks for a TTY.";
    exec_stdin: "kar.req.exec.stdin" => text(|r| resources::exec_value(r, "stdin")), "true when a CONNECT pods/exec attaches stdin.";
    portforward_ports: "kar.req.portforward.ports" => list(resources::portforward_ports), "The ports of a CONNECT pods/portforward.";
    proxy_path: "kar.req.proxy.path" => text(resources::proxy_path), "The path of a CONNECT on a proxy subresource (pods/proxy, nodes/proxy, services/proxy).";
    pod_spec_path: "kar.req.pod.spec_path" => text(pod::spec_path), "The JSON pointer of the pod spec found by kind, e.g. /request/object/spec/template/spec.";
    pod_host_ipc: "kar.req.pod.host_ipc" => text(|r| pod_value(r, Which::Object, &["hostIPC"])), "The hostIPC setting of the pod spec.";
    pod_host_network: "kar.req.pod.host_network" => text(|r| pod_value(r, Which::Object, &["hostNetwork"])), "The hostNetwork setting of the pod spec.";
    pod_host_pid: "kar.req.pod.host_pid" => text(|r| pod_value(r, Which::Object, &["hostPID"])), "The hostPID setting of the pod spec.";
    container_host_network: "kar.req.container.host_network" => text(|r| pod_value(r, Which::Object, &["hostNetwork"])), "Deprecated alias of kar.req.pod.host_network.";
    pod_run_as_user: "kar.req.pod.run_as_user" => text(|r| pod_value(r, Which::Object, &["securityContext", "runAsUser"])), "The pod-level runAsUser.";
    pod_run_as_group: "kar.req.pod.run_as_group" => text(|r| pod_value(r, Which::Object, &["securityContext", "runAsGroup"])), "The pod-level runAsGroup.";
    pod_fs_group: "kar.req.pod.fs_group" => text(|r| pod_value(r, Which::Object, &["securityContext", "fsGroup"])), "The pod-level fsGroup.";
    pod_supplemental_groups: "kar.req.pod.supplemental_groups" => list(pod::supplemental_groups), "The pod-level supplementalGroups.";
    pod_service_account: "kar.req.pod.service_account" => text(|r| pod_value(r, Which::Object, &["serviceAccountName"])), "The serviceAccountName of the pod spec.";
    c_name: "kar.req.pod.containers.name" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::name)), "The names of the containers; [N] = container N's.";
    c_image: "kar.req.pod.containers.image" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::image)), "The images of the containers; [N] = container N's.";
    c_image_repository: "kar.req.pod.containers.image.repository" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::image_repository)), "The image repositories (no tag, no digest) of the containers; [N] = container N's.";
    c_command: "kar.req.pod.containers.command" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::command)), "The commands of the containers, joined by spaces; [N] = container N's.";
    c_args: "kar.req.pod.containers.args" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::args)), "The args of the containers, joined by spaces; [N] = container N's.";
    c_host_port: "kar.req.pod.containers.host_port" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::host_port)), "The host ports of the containers (hostPort, or containerPort under hostNetwork); [N] = container N's.";
    c_privileged: "kar.req.pod.containers.privileged" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::privileged)), "The explicit privileged settings of the containers; [N] = container N's.";
    c_allow_privilege_escalation: "kar.req.pod.containers.allow_privilege_escalation" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::allow_privilege_escalation)), "The explicit allowPrivilegeEscalation settings of the containers; [N] = container N's.";
    c_read_only_fs: "kar.req.pod.containers.read_only_fs" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::read_only_fs)), "The explicit readOnlyRootFilesystem settings of the containers; [N] = container N's.";
    c_run_as_user: "kar.req.pod.containers.run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::run_as_user)), "The explicit runAsUser settings of the containers; [N] = container N's.";
    c_eff_run_as_user: "kar.req.pod.containers.eff_run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::eff_run_as_user)), "The user each container runs as: its runAsUser, else the pod's, else 0; [N] = container N's.";
    c_run_as_group: "kar.req.pod.containers.run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::run_as_group)), "The explicit runAsGroup settings of the containers; [N] = container N's.";
    c_eff_run_as_group: "kar.req.pod.containers.eff_run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::eff_run_as_group)), "The group each container runs as: its runAsGroup, else the pod's, else 0; [N] = container N's.";
    c_proc_mount: "kar.req.pod.containers.proc_mount" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::proc_mount)), "The explicit procMount settings of the containers; [N] = container N's.";
    c_add_capabilities: "kar.req.pod.containers.add_capabilities" => list_idx(|r, i| per_container(r, Which::Object, "containers", i, pod::add_capabilities)), "Every capability added by the containers, flattened; [N] = container N's.";
    i_name: "kar.req.pod.initContainers.name" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::name)), "The names of the init containers; [N] = init container N's.";
    i_image: "kar.req.pod.initContainers.image" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::image)), "The images of the init containers; [N] = init container N's.";
    i_image_repository: "kar.req.pod.initContainers.image.repository" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::image_repository)), "The image repositories of the init containers; [N] = init container N's.";
    i_command: "kar.req.pod.initContainers.command" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::command)), "The commands of the init containers, joined by spaces; [N] = init container N's.";
    i_args: "kar.req.pod.initContainers.args" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::args)), "The args of the init containers, joined by spaces; [N] = init container N's.";
    i_host_port: "kar.req.pod.initContainers.host_port" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::host_port)), "The host ports of the init containers; [N] = init container N's.";
    i_privileged: "kar.req.pod.initContainers.privileged" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::privileged)), "The explicit privileged settings of the init containers; [N] = init container N's.";
    i_allow_privilege_escalation: "kar.req.pod.initContainers.allow_privilege_escalation" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::allow_privilege_escalation)), "The explicit allowPrivilegeEscalation settings of the init containers; [N] = init container N's.";
    i_read_only_fs: "kar.req.pod.initContainers.read_only_fs" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::read_only_fs)), "The explicit readOnlyRootFilesystem settings of the init containers; [N] = init container N's.";
    i_run_as_user: "kar.req.pod.initContainers.run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::run_as_user)), "The explicit runAsUser settings of the init containers; [N] = init container N's.";
    i_eff_run_as_user: "kar.req.pod.initContainers.eff_run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::eff_run_as_user)), "The user each init container runs as: its runAsUser, else the pod's, else 0; [N] = init container N's.";
    i_run_as_group: "kar.req.pod.initContainers.run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::run_as_group)), "The explicit runAsGroup settings of the init containers; [N] = init container N's.";
    i_eff_run_as_group: "kar.req.pod.initContainers.eff_run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::eff_run_as_group)), "The group each init container runs as: its runAsGroup, else the pod's, else 0; [N] = init container N's.";
    i_proc_mount: "kar.req.pod.initContainers.proc_mount" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::proc_mount)), "The explicit procMount settings of the init containers; [N] = init container N's.";
    i_add_capabilities: "kar.req.pod.initContainers.add_capabilities" => list_idx(|r, i| per_container(r, Which::Object, "initContainers", i, pod::add_capabilities)), "Every capability added by the init containers, flattened; [N] = init container N's.";
    e_name: "kar.req.pod.ephemeralContainers.name" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::name)), "The names of the ephemeral containers; [N] = ephemeral container N's.";
    e_image: "kar.req.pod.ephemeralContainers.image" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::image)), "The images of the ephemeral containers; [N] = ephemeral container N's.";
    e_image_repository: "kar.req.pod.ephemeralContainers.image.repository" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::image_repository)), "The image repositories of the ephemeral containers; [N] = ephemeral container N's.";
    e_command: "kar.req.pod.ephemeralContainers.command" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::command)), "The commands of the ephemeral containers, joined by spaces; [N] = ephemeral container N's.";
    e_args: "kar.req.pod.ephemeralContainers.args" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::args)), "The args of the ephemeral containers, joined by spaces; [N] = ephemeral container N's.";
    e_privileged: "kar.req.pod.ephemeralContainers.privileged" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::privileged)), "The explicit privileged settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_allow_privilege_escalation: "kar.req.pod.ephemeralContainers.allow_privilege_escalation" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::allow_privilege_escalation)), "The explicit allowPrivilegeEscalation settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_read_only_fs: "kar.req.pod.ephemeralContainers.read_only_fs" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::read_only_fs)), "The explicit readOnlyRootFilesystem settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_run_as_user: "kar.req.pod.ephemeralContainers.run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::run_as_user)), "The explicit runAsUser settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_eff_run_as_user: "kar.req.pod.ephemeralContainers.eff_run_as_user" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::eff_run_as_user)), "The user each ephemeral container runs as: its runAsUser, else the pod's, else 0; [N] = ephemeral container N's.";
    e_run_as_group: "kar.req.pod.ephemeralContainers.run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::run_as_group)), "The explicit runAsGroup settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_eff_run_as_group: "kar.req.pod.ephemeralContainers.eff_run_as_group" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::eff_run_as_group)), "The group each ephemeral container runs as: its runAsGroup, else the pod's, else 0; [N] = ephemeral container N's.";
    e_proc_mount: "kar.req.pod.ephemeralContainers.proc_mount" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::proc_mount)), "The explicit procMount settings of the ephemeral containers; [N] = ephemeral container N's.";
    e_add_capabilities: "kar.req.pod.ephemeralContainers.add_capabilities" => list_idx(|r, i| per_container(r, Which::Object, "ephemeralContainers", i, pod::add_capabilities)), "Every capability added by the ephemeral containers, flattened; [N] = ephemeral container N's.";
    ephemeral_added: "kar.req.pod.ephemeralContainers.added" => list(pod::ephemeral_added), "Names of ephemeral containers in the object but not in the old object (kubectl debug).";
    container_image: "kar.req.container.image" => text(|r| first_container(r, pod::image)), "Deprecated: the image of the first container.";
    container_image_repository: "kar.req.container.image.repository" => text(|r| first_container(r, pod::image_repository)), "Deprecated: the image repository of the first container.";
    container_privileged: "kar.req.container.privileged" => text(pod::any_privileged), "Deprecated: true if any container is privileged, else false.";
    volumes_hostpath: "kar.req.pod.volumes.hostpath" => list_idx(|r, i| per_volume(r, Which::Object, i, volume::host_path)), "The hostPath paths of the pod's volumes; [N] = volume N's.";
    volume_hostpath: "kar.req.volume.hostpath" => text_key(volume::hostpath_matches), "Deprecated: true if a hostPath volume is this path (a trailing * matches a prefix), else false.";
    volumes_hostpath_writable: "kar.req.pod.volumes.hostpath_writable" => list(volume::hostpath_writable), "hostPath paths that some container (of any family) mounts without readOnly: true.";
    volumes_flexvolume_driver: "kar.req.pod.volumes.flexvolume_driver" => list_idx(|r, i| per_volume(r, Which::Object, i, volume::flex_driver)), "The flexVolume drivers of the pod's volumes; [N] = volume N's.";
    volumes_volume_type: "kar.req.pod.volumes.volume_type" => list_idx(volume::volume_types), "The type of each volume (its keys other than name: hostPath, secret, projected, ...); [N] = volume N's.";
    oldpod_host_network: "kar.req.oldpod.host_network" => text(|r| pod_value(r, Which::OldObject, &["hostNetwork"])), "The hostNetwork setting of the old object's pod spec (UPDATE).";
    oldpod_host_pid: "kar.req.oldpod.host_pid" => text(|r| pod_value(r, Which::OldObject, &["hostPID"])), "The hostPID setting of the old object's pod spec (UPDATE).";
    oldpod_host_ipc: "kar.req.oldpod.host_ipc" => text(|r| pod_value(r, Which::OldObject, &["hostIPC"])), "The hostIPC setting of the old object's pod spec (UPDATE).";
    oldpod_c_image: "kar.req.oldpod.containers.image" => list_idx(|r, i| per_container(r, Which::OldObject, "containers", i, pod::image)), "The container images of the old object's pod spec; [N] = container N's.";
    oldpod_c_privileged: "kar.req.oldpod.containers.privileged" => list_idx(|r, i| per_container(r, Which::OldObject, "containers", i, pod::privileged)), "The explicit privileged settings of the old object's containers; [N] = container N's.";
    oldpod_c_add_capabilities: "kar.req.oldpod.containers.add_capabilities" => list_idx(|r, i| per_container(r, Which::OldObject, "containers", i, pod::add_capabilities)), "Every capability added by the old object's containers; [N] = container N's.";
    oldpod_i_privileged: "kar.req.oldpod.initContainers.privileged" => list_idx(|r, i| per_container(r, Which::OldObject, "initContainers", i, pod::privileged)), "The explicit privileged settings of the old object's init containers; [N] = init container N's.";
    oldpod_volumes_hostpath: "kar.req.oldpod.volumes.hostpath" => list_idx(|r, i| per_volume(r, Which::OldObject, i, volume::host_path)), "The hostPath paths of the old object's volumes; [N] = volume N's.";
    field_manager: "kar.req.field_manager" => text(request::field_manager), "The field manager: request.options.fieldManager, else the last manager in metadata.managedFields.";
    resp_name: "kar.resp.name" => text(request::resp_name), "The name of the object (object.metadata.name, else oldObject.metadata.name).";
    response_code: "kar.response.code" => text(never), "Always empty: the response is not known at admission (k8saudit compatibility).";
    response_reason: "kar.response.reason" => text(never), "Always empty: the response is not known at admission (k8saudit compatibility).";
    useragent: "kar.useragent" => text(never), "Always empty: admission requests carry no user agent (k8saudit compatibility).";
    sourceips: "kar.sourceips" => list(never_list), "Always empty: admission requests carry no client IPs (k8saudit compatibility).";
    cluster_name: "kar.cluster.name" => text(request::cluster_name), "The clusterName of init_config.";
    value: "kar.value" => text_key(request::value), "Any value of the review by JSON pointer, e.g. kar.value[/request/object/metadata/labels/app]: scalars as text, objects and lists as compact JSON.";
    obj: "kar.obj" => text(request::obj), "The whole AdmissionReview JSON (Secrets redacted under redactSecrets).";
}
