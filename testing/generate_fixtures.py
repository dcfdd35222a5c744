#!/usr/bin/env python3
"""Generate the scenario fixtures of test_files/ from testing/scenarios.yaml and the
manifests in testing/k8s/ (`make fixtures`).

Each scenario names a manifest, an operation (CREATE, UPDATE, DELETE, CONNECT), a user,
and optionally a subresource, namespace/name overrides, dry-run, an old manifest (UPDATE,
DELETE) and request options. The generator turns it into the AdmissionReview a validating
webhook (kube-audit-rest) receives: the manifest defaulted and mutated the way the
kube-apiserver does it (testing/apiserver.py, shared with testing/make_captures.py), the
request envelope filled, `requestReceivedTimestamp` appended, all of it deterministic:
request uids derived from the scenario id, timestamps from a fixed base plus the
scenario's index, Go-style compact JSON.

    python3 testing/generate_fixtures.py           write test_files/ (scenario files and
                                                   the three make_captures.py files)
    python3 testing/generate_fixtures.py --check   regenerate into a temporary directory;
                                                   exit 1 with a summary when test_files/
                                                   differs (the CI test calls this)
    python3 testing/generate_fixtures.py --list    the scenario table (markdown)
    python3 testing/generate_fixtures.py --out DIR write somewhere else

Needs python3 and PyYAML (`pip install pyyaml`).
"""
import argparse
import copy
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import apiserver as api  # noqa: E402
import make_captures  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("generate_fixtures.py needs PyYAML: pip install pyyaml")

ROOT = os.path.normpath(os.path.join(HERE, ".."))
K8S = os.path.join(HERE, "k8s")
SCENARIOS = os.path.join(HERE, "scenarios.yaml")
TEST_FILES = os.path.join(ROOT, "test_files")
CAPTURE_FILES = ("kube_audit_rest_sample.jsonl", "edge_cases.jsonl", "malformed_lines.jsonl")

# The clock: scenario i is received at BASE_SEC + STEP * i seconds after 10:00:00 on
# apiserver.DAY (14:00:00 on; make_captures.py's files use 10:15-10:51), with a fraction
# from apiserver.FRACS. Old objects (of UPDATE and DELETE) were created OLD_AGE earlier.
BASE_SEC = 4 * 3600
STEP = 5
OLD_AGE = 5400

SCENARIO_KEYS = {"id", "file", "manifest", "operation", "subresource", "user", "namespace",
                 "name", "dry_run", "old_manifest", "options", "client", "old_client", "why"}


# --------------------------------------------------------------------------
# YAML: one document per manifest; timestamps stay strings (as sigs.k8s.io/yaml does)
# --------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=_Loader) if d is not None]
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise SystemExit(f"{path}: expected exactly one YAML mapping")
    return docs[0]


_manifests = {}


def manifest(rel):
    if rel not in _manifests:
        path = os.path.join(K8S, rel)
        if not os.path.isfile(path):
            raise SystemExit(f"manifest {rel} not found under testing/k8s/")
        _manifests[rel] = load_yaml(path)
    return copy.deepcopy(_manifests[rel])


# --------------------------------------------------------------------------
# users and clients
# --------------------------------------------------------------------------

def make_user(spec, presets, where):
    """A userInfo from a preset name or an inline mapping:
    {x509: NAME, groups: [...]}              client certificate (credential-id extra)
    {serviceaccount: NS/NAME, pod:, node:}   service account token (pod-bound if pod)
    {node: NAME}                             a kubelet (system:node:NAME)
    {username:, uid:, groups:, extra:}       exactly as written
    """
    if isinstance(spec, str):
        if spec not in presets:
            raise SystemExit(f"{where}: unknown user preset {spec!r}")
        spec = presets[spec]
    if not isinstance(spec, dict):
        raise SystemExit(f"{where}: user must be a preset name or a mapping")
    if "x509" in spec:
        return api.x509_user(spec["x509"], list(spec.get("groups") or []))
    if "serviceaccount" in spec:
        ns, _, name = spec["serviceaccount"].partition("/")
        return api.sa_user(ns, name, pod=spec.get("pod"), node=spec.get("node"))
    if "node" in spec:
        return api.node_user(spec["node"])
    if "username" in spec:
        unknown = set(spec) - {"username", "uid", "groups", "extra"}
        if unknown:
            raise SystemExit(f"{where}: unknown user keys {sorted(unknown)}")
        return api.o("userInfo", username=spec["username"], uid=spec.get("uid"),
                     groups=spec.get("groups"),
                     extra=api.M(spec["extra"]) if spec.get("extra") else None)
    raise SystemExit(f"{where}: cannot read user {spec!r}")


# How a request was sent: the field manager (managedFields and options.fieldManager),
# the managedFields operation, kubectl's last-applied annotation, fieldValidation=Strict.
CLIENTS = {
    "kubectl-apply": dict(manager="kubectl-client-side-apply", last_applied=True,
                          field_manager=True, strict=True),
    "kubectl-create": dict(manager="kubectl-create", field_manager=True, strict=True),
    "kubectl-run": dict(manager="kubectl-run", field_manager=True, strict=True),
    "kubectl-edit": dict(manager="kubectl-edit", field_manager=True, strict=True),
    "kubectl-patch": dict(manager="kubectl-patch", field_manager=True, strict=True),
    "kubectl-debug": dict(manager="kubectl-debug", field_manager=True, strict=True),
    "kubectl-server-side-apply": dict(manager="kubectl", operation="Apply",
                                      field_manager=True),
    "kubectl-token": dict(manager=None),       # kubectl create token: no field manager
    "kubectl-delete": dict(manager=None),
    "kube-controller-manager": dict(manager="kube-controller-manager"),
    "kubelet": dict(manager="kubelet"),
    "kube-apiserver": dict(manager="kube-apiserver"),  # bootstrap objects
    "none": dict(manager=None),
}


def client(name, where):
    if name not in CLIENTS:
        raise SystemExit(f"{where}: unknown client {name!r} (one of {sorted(CLIENTS)})")
    c = dict(operation="Update", last_applied=False, field_manager=False, strict=False)
    c.update(CLIENTS[name])
    return c


def request_options(op, cl, dry, override, where):
    if op == "CONNECT":
        if override:
            raise SystemExit(f"{where}: CONNECT requests carry no options")
        return None
    if op == "DELETE":
        opts = dict(kind="DeleteOptions", apiVersion="meta.k8s.io/v1",
                    propagationPolicy="Background", dryRun=["All"] if dry else None)
        order = api.ORDER["deleteOptions"]
    else:
        opts = dict(kind="CreateOptions" if op == "CREATE" else "UpdateOptions",
                    apiVersion="meta.k8s.io/v1", dryRun=["All"] if dry else None,
                    fieldManager=cl["manager"] if cl["field_manager"] else None,
                    fieldValidation="Strict" if cl["strict"] else None)
        order = api.ORDER["createOptions"]
    for k, v in (override or {}).items():
        if k not in order:
            raise SystemExit(f"{where}: options.{k} is not a field of {opts['kind']}")
        opts[k] = v
    return {k: opts[k] for k in order if opts.get(k) is not None}


# --------------------------------------------------------------------------
# scenarios -> reviews
# --------------------------------------------------------------------------

def place(m, scn, where):
    """Apply the scenario's name and namespace to a manifest (kubectl -n, or a renamed
    copy); namespaced kinds default to the "default" namespace as kubectl does."""
    kind = m.get("kind")
    if kind not in api.KINDS:
        raise SystemExit(f"{where}: kind {kind!r} is not modelled (apiserver.KINDS)")
    if not isinstance(m.get("apiVersion"), str):
        raise SystemExit(f"{where}: the manifest has no apiVersion")
    md = m.setdefault("metadata", {})
    if scn.get("name"):
        md["name"] = scn["name"]
    namespaced = api.KINDS[kind][2]
    if namespaced:
        md["namespace"] = scn.get("namespace") or md.get("namespace") or "default"
    elif scn.get("namespace"):
        raise SystemExit(f"{where}: {kind} is cluster-scoped; drop namespace")
    if not md.get("name") and not md.get("generateName"):
        raise SystemExit(f"{where}: the object has no name")
    return m


def build(scn, index, presets):
    sid = scn["id"]
    where = f"scenario {sid}"
    sec = BASE_SEC + STEP * index
    op = scn.get("operation", "CREATE")
    dry = bool(scn.get("dry_run", False))
    user = make_user(scn.get("user"), presets, where)
    ts = api.ts_for(index, sec)
    label = "scenario:" + sid
    default_client = {"CREATE": "kubectl-apply", "UPDATE": "kubectl-apply",
                      "DELETE": "kubectl-delete", "CONNECT": "none"}[op]
    cl = client(scn.get("client", default_client), where)
    opts = request_options(op, cl, dry, scn.get("options"), where)

    if op == "CONNECT":
        m = manifest(scn["manifest"])
        kind = m.get("kind")
        if kind not in api.CONNECT_KINDS:
            raise SystemExit(f"{where}: CONNECT needs an options object "
                             f"({sorted(api.CONNECT_KINDS)}), not {kind}")
        resource, sub = api.CONNECT_KINDS[kind]
        if scn.get("subresource", sub) != sub:
            raise SystemExit(f"{where}: {kind} goes with the {sub} subresource")
        if not scn.get("name"):
            raise SystemExit(f"{where}: CONNECT needs the target name")
        if dry:
            raise SystemExit(f"{where}: a CONNECT cannot be a dry run")
        if resource == "nodes" and scn.get("namespace"):
            raise SystemExit(f"{where}: nodes are cluster-scoped; drop namespace")
        ns = None if resource == "nodes" else (scn.get("namespace") or "default")
        group, version = api.split_api_version(m["apiVersion"])
        obj = api.normalize(m, kind)
        return api.review(label, api.gvk(group, version, kind),
                          api.gvr("", "v1", resource), "CONNECT", user, scn["name"], ns,
                          obj, options=None, sub=sub, dry=dry, ts=ts)

    new_m = place(api.subst(manifest(scn["manifest"]), sec), scn, where) \
        if op in ("CREATE", "UPDATE") else None
    old_m = None
    if op in ("UPDATE", "DELETE"):
        if not scn.get("old_manifest"):
            raise SystemExit(f"{where}: {op} needs old_manifest")
        old_m = place(api.subst(manifest(scn["old_manifest"]), sec), scn, where)
    elif scn.get("old_manifest"):
        raise SystemExit(f"{where}: old_manifest only goes with UPDATE and DELETE")
    body = new_m or old_m
    kind = body["kind"]
    group, version = api.split_api_version(body["apiVersion"])
    _, resource, namespaced, _ = api.KINDS[kind]
    sub = scn.get("subresource")
    if kind == "TokenRequest":
        if op != "CREATE" or sub not in (None, "token"):
            raise SystemExit(f"{where}: a TokenRequest is a CREATE of serviceaccounts/token")
        sub = "token"

    try:
        if kind == "TokenRequest":
            if not scn.get("name"):
                raise SystemExit(f"{where}: the token's service account goes in name")
            obj = api.admit_create(new_m, sec)
            # TokenREST fills name and namespace from the URL before validation
            obj["metadata"] = api.normalize({**obj["metadata"], "name": scn["name"],
                                             "namespace": new_m["metadata"]["namespace"]},
                                            "ObjectMeta")
            old = None
            name = scn["name"]
        elif op == "CREATE":
            if sub:
                raise SystemExit(f"{where}: CREATE of {resource}/{sub} is not modelled")
            obj = api.admit_create(new_m, sec, cl["manager"], cl["operation"],
                                   cl["last_applied"], name_label=sid)
            old = None
            name = new_m["metadata"].get("name")  # empty with generateName: request.name too
        else:
            ocl = client(scn.get("old_client", "kubectl-apply"), where)
            created = sec - OLD_AGE
            old = api.admit_create(old_m, created, ocl["manager"], ocl["operation"],
                                   ocl["last_applied"], name_label=sid + ":old")
            old = api.settle(old, created, sec)
            if op == "UPDATE":
                if new_m["metadata"].get("name") != old_m["metadata"].get("name"):
                    raise SystemExit(f"{where}: manifest and old_manifest name differ")
                fresh = api.admit_create(new_m, sec, cl["manager"], cl["operation"],
                                         cl["last_applied"], name_label=sid)
                obj = api.admit_update(old, fresh, sec, cl["manager"], cl["operation"],
                                       subresource=sub)
            else:
                if sub:
                    raise SystemExit(f"{where}: DELETE of a subresource is not modelled")
                obj = None
            name = old["metadata"]["name"]
    except api.ManifestError as e:
        raise SystemExit(f"{where}: {e}")

    if dry and obj is not None and "uid" in obj["metadata"]:
        # a dry run allocates a uid of its own (the object is never stored)
        obj["metadata"]["uid"] = api.uid("dry-run:" + sid)
    md = (obj or old)["metadata"]
    if kind == "Namespace":
        ns = md["name"]
    else:
        ns = md.get("namespace") if namespaced else None
    # serviceaccounts/token is a core resource whose object is authentication.k8s.io's
    rgroup, rversion = ("", "v1") if kind == "TokenRequest" else (group, version)
    return api.review(label, api.gvk(group, version, kind),
                      api.gvr(rgroup, rversion, resource), op, user, name or None, ns, obj,
                      old=old, options=opts, sub=sub, dry=dry, ts=ts)


def load_scenarios():
    doc = load_yaml(SCENARIOS)
    presets = doc.get("users") or {}
    scns = doc.get("scenarios") or []
    seen = set()
    for i, s in enumerate(scns):
        where = f"scenarios.yaml entry {i + 1}"
        if not isinstance(s, dict) or "id" not in s:
            raise SystemExit(f"{where}: every scenario needs an id")
        where = f"scenario {s['id']}"
        unknown = set(s) - SCENARIO_KEYS
        if unknown:
            raise SystemExit(f"{where}: unknown keys {sorted(unknown)}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", s["id"]):
            raise SystemExit(f"{where}: ids are lowercase words joined by -")
        if s["id"] in seen:
            raise SystemExit(f"{where}: duplicate id")
        seen.add(s["id"])
        for k in ("file", "user", "why"):
            if not s.get(k):
                raise SystemExit(f"{where}: {k} is required")
        if not re.fullmatch(r"[a-z0-9_]+", s["file"]) or \
                s["file"] + ".jsonl" in CAPTURE_FILES:
            raise SystemExit(f"{where}: file is a plain stem (pods, rbac, ...) and not "
                             "one of make_captures.py's files")
        if s.get("operation", "CREATE") not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
            raise SystemExit(f"{where}: operation is CREATE, UPDATE, DELETE or CONNECT")
        if s.get("operation", "CREATE") != "DELETE" and not s.get("manifest"):
            raise SystemExit(f"{where}: manifest is required")
        if s.get("operation") == "DELETE" and s.get("manifest"):
            raise SystemExit(f"{where}: a DELETE has no new object: use old_manifest")
    return presets, scns


# --------------------------------------------------------------------------
# what the apiserver would send: checks on every generated review
# --------------------------------------------------------------------------

def validate(rv, scn):
    where = f"scenario {scn['id']}"

    def need(cond, msg):
        if not cond:
            raise SystemExit(f"{where}: generated review is wrong: {msg}")

    line = api.go_json(rv)
    back = json.loads(line)
    need(back == rv, "does not survive a JSON round trip")
    need(list(back) == ["kind", "apiVersion", "request", "requestReceivedTimestamp"],
         "top-level members")
    r = back["request"]
    need(isinstance(r.get("uid"), str) and r["uid"], "request.uid")
    need(r["requestKind"] == r["kind"] and r["requestResource"] == r["resource"]
         and r.get("requestSubResource") == r.get("subResource"), "request* mirror")
    op, res, sub = r["operation"], r["resource"]["resource"], r.get("subResource")
    obj, old, opts = r["object"], r["oldObject"], r["options"]
    need(isinstance(r["dryRun"], bool), "dryRun is a boolean")
    if op == "CONNECT":
        kinds = {v: k for k, v in api.CONNECT_KINDS.items()}
        need((res, sub) in kinds, f"CONNECT on {res}/{sub}")
        need(obj and obj.get("kind") == kinds[(res, sub)] == r["kind"]["kind"],
             "CONNECT object is the options kind")
        need(old is None and opts is None and not r["dryRun"], "CONNECT: no old, no options")
        need(r.get("name"), "CONNECT names its target")
        need((r.get("namespace") is None) == (res == "nodes"), "CONNECT namespace")
        return line
    body = obj if obj is not None else old
    group, version = api.split_api_version(body["apiVersion"])
    need(r["kind"] == {"group": group, "version": version, "kind": body["kind"]},
         "request.kind is the object's")
    kgroup, kres, namespaced, _ = api.KINDS[body["kind"]]
    need(res == kres, f"resource {res} for {body['kind']}")
    allowed = {None: ("CREATE", "UPDATE", "DELETE"),
               "ephemeralcontainers": ("UPDATE",), "token": ("CREATE",)}
    need(sub in allowed and op in allowed[sub], f"{op} on subresource {sub}")
    need((sub == "token") == (body["kind"] == "TokenRequest"), "token <-> TokenRequest")
    need((sub == "ephemeralcontainers") <= (body["kind"] == "Pod"), "ephemeralcontainers")
    expected_opts = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions",
                     "DELETE": "DeleteOptions"}[op]
    need(opts and opts["kind"] == expected_opts, f"options kind {expected_opts}")
    need(r["dryRun"] == (opts.get("dryRun") == ["All"]), "dryRun matches options.dryRun")
    if op == "CREATE":
        need(obj is not None and old is None, "CREATE: object, no oldObject")
    elif op == "UPDATE":
        need(obj is not None and old is not None, "UPDATE: object and oldObject")
        need(obj["metadata"]["uid"] == old["metadata"]["uid"], "UPDATE keeps the uid")
        need(obj["metadata"].get("resourceVersion") == old["metadata"]["resourceVersion"],
             "UPDATE: the new object carries the stored resourceVersion")
        need(obj != old, "UPDATE changes something")
    elif op == "DELETE":
        need(obj is None and old is not None, "DELETE: oldObject only")
        need(old["metadata"].get("resourceVersion"), "DELETE: a stored object")
    md = body["metadata"]
    need(r.get("name") in (md.get("name"), None), "request.name is the object's")
    need(r.get("name") or md.get("generateName"), "request.name (unless generateName)")
    if body["kind"] == "Namespace":
        need(r.get("namespace") == md["name"], "a Namespace's request.namespace is itself")
    elif namespaced:
        need(r.get("namespace") == md.get("namespace") and r.get("namespace"),
             "request.namespace is the object's")
    else:
        need(r.get("namespace") is None and "namespace" not in md, "cluster-scoped")
    if body["kind"] != "TokenRequest":
        need(md.get("uid") and md.get("creationTimestamp"), "uid and creationTimestamp set")
    if body["kind"] == "Pod" and op == "CREATE":
        spec = obj["spec"]
        need(obj["status"]["phase"] == "Pending", "a new Pod is Pending")
        need(spec.get("serviceAccountName") and spec.get("tolerations")
             and "priority" in spec, "Pod admission plugins ran")
    return line


# --------------------------------------------------------------------------
# writing, checking, listing
# --------------------------------------------------------------------------

def generate(out, with_captures=True):
    """Write every scenario file (and make_captures.py's files) into `out`; return
    {file: [(line, scenario, review)]}."""
    presets, scns = load_scenarios()
    files = {}
    uids = set()
    for i, scn in enumerate(scns):
        rv = build(scn, i, presets)
        line = validate(rv, scn)
        u = rv["request"]["uid"]
        if u in uids:
            raise SystemExit(f"scenario {scn['id']}: duplicate request uid")
        uids.add(u)
        files.setdefault(scn["file"], []).append((line, scn, rv))
    os.makedirs(out, exist_ok=True)
    for stem, rows in files.items():
        path = os.path.join(out, stem + ".jsonl")
        with open(path, "wb") as f:
            for line, _, _ in rows:
                f.write(line.encode("utf-8") + b"\n")
        # the generic capture checks of apiserver.py (framing, order, DELETE/UPDATE shape)
        api.check_file(path, [(scn["why"], "valid") for _, scn, _ in rows])
        stamps = [rv["requestReceivedTimestamp"] for _, _, rv in rows]
        assert stamps == sorted(stamps), path
    if with_captures:
        make_captures.main(out, quiet=True)
    return files


def expected_files(files):
    return sorted([s + ".jsonl" for s in files] + list(CAPTURE_FILES))


def check():
    tmp = tempfile.mkdtemp(prefix="k8sadmission-fixtures-")
    try:
        files = generate(tmp)
        wanted = expected_files(files)
        present = sorted(f for f in os.listdir(TEST_FILES) if f.endswith(".jsonl"))
        problems = []
        for f in sorted(set(present) - set(wanted)):
            problems.append(f"test_files/{f}: not produced by any generator (stale? "
                            "remove it or add its scenarios)")
        for f in wanted:
            mine = os.path.join(TEST_FILES, f)
            if not os.path.exists(mine):
                problems.append(f"test_files/{f}: missing")
                continue
            a = open(mine, "rb").read()
            b = open(os.path.join(tmp, f), "rb").read()
            if a == b:
                continue
            al, bl = a.split(b"\n"), b.split(b"\n")
            bad = [i + 1 for i in range(max(len(al), len(bl)))
                   if i >= len(al) or i >= len(bl) or al[i] != bl[i]]
            ids = {}
            if f[:-6] in files:
                ids = {n + 1: scn["id"] for n, (_, scn, _) in enumerate(files[f[:-6]])}
            first = bad[0]
            problems.append(f"test_files/{f}: {len(bad)} line(s) differ, first line {first}"
                            + (f" (scenario {ids[first]})" if first in ids else "")
                            + f"; {len(a.splitlines())} committed vs "
                            f"{len(b.splitlines())} regenerated lines")
            if first <= min(len(al), len(bl)):
                x = al[first - 1].decode("utf-8", "replace")
                y = bl[first - 1].decode("utf-8", "replace")
                sm = difflib.SequenceMatcher(None, x, y, autojunk=False)
                for tag, i1, i2, j1, j2 in sm.get_opcodes():
                    if tag != "equal":
                        problems.append(f"    at char {i1}: committed   …"
                                        f"{x[max(0, i1 - 40):min(i2 + 40, i1 + 120)]}…")
                        problems.append(f"    at char {j1}: regenerated …"
                                        f"{y[max(0, j1 - 40):min(j2 + 40, j1 + 120)]}…")
                        break
        if problems:
            print("test_files/ is not up to date with testing/ (run `make fixtures`, or "
                  "python3 testing/generate_fixtures.py, and commit the result):",
                  file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            return 1
        unused = unused_manifests()
        if unused:
            print("warning: manifests no scenario uses: " + ", ".join(unused), file=sys.stderr)
        n = sum(len(v) for v in files.values())
        print(f"test_files/ is up to date ({n} scenarios in {len(files)} files, "
              f"{len(CAPTURE_FILES)} capture files)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def unused_manifests():
    _, scns = load_scenarios()
    used = {s.get(k) for s in scns for k in ("manifest", "old_manifest")}
    return sorted(f for f in os.listdir(K8S) if f.endswith(".yaml") and f not in used)


def describe_resource(rv):
    r = rv["request"]
    res = r["resource"]["resource"] + ("/" + r["subResource"] if r.get("subResource") else "")
    target = (r.get("namespace") + "/" if r.get("namespace") else "") + (r.get("name") or "")
    if not r.get("name"):
        body = r["object"] or r["oldObject"]
        target += body["metadata"]["name"] + " (generated)"
    return res, target


def listing(files):
    print("| id | file:line | operation | resource | target | user | why |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for stem, lines in files.items():
        for n, (_, scn, rv) in enumerate(lines, 1):
            rows.append((rv["requestReceivedTimestamp"], stem, n, scn, rv))
    for _, stem, n, scn, rv in sorted(rows):
        r = rv["request"]
        res, target = describe_resource(rv)
        op = r["operation"] + (" (dry-run)" if r["dryRun"] else "")
        print(f"| {scn['id']} | {stem}.jsonl:{n} | {op} | {res} | {target} | "
              f"{r['userInfo']['username']} | {' '.join(scn['why'].split())} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true",
                   help="regenerate into a temporary directory and compare with test_files/")
    g.add_argument("--list", action="store_true", help="print the scenario table")
    g.add_argument("--out", help="write into this directory instead of test_files/")
    args = ap.parse_args()
    t0 = time.monotonic()
    if args.check:
        rc = check()
        print(f"({time.monotonic() - t0:.2f}s)", file=sys.stderr)
        return rc
    if args.list:
        tmp = tempfile.mkdtemp(prefix="k8sadmission-fixtures-")
        try:
            listing(generate(tmp, with_captures=False))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    out = args.out or TEST_FILES
    files = generate(out)
    n = sum(len(v) for v in files.values())
    print(f"wrote {n} scenarios into {len(files)} files and the {len(CAPTURE_FILES)} "
          f"capture files in {os.path.relpath(out)} ({time.monotonic() - t0:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
