//! The admission webhook (`http(s)://`, SPEC §5.3): a drop-in target for kube-audit-rest's clients.
