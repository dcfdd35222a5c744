//! Follow mode (`file://`, SPEC §5.2): kube-audit-rest's rotating JSONL files, read live.
