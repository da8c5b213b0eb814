#!/usr/bin/env python3
"""Generate the compact FHIR R4 (4.0.1) core conformance table used by clins-hub.

Purpose
    The validator needs the FHIR R4 core StructureDefinitions (snapshots),
    ValueSets and CodeSystems. The official definitions (the CC0-licensed
    ``hl7.fhir.r4.core`` 4.0.1 package) are ~32 MB of JSON, mostly narrative,
    mappings and documentation. This script reduces them to one compact JSON
    file. The file keeps FHIR's JSON shape and key names, so the Rust side can
    read it with the same code that reads IG packages.

Usage
    python3 tools/gen-r4-table.py [SPEC_DIR] [OUT]

    SPEC_DIR  directory with the R4 core bundles (profiles-types.json,
              profiles-resources.json, profiles-others.json,
              extension-definitions.json, valuesets.json,
              v3-codesystems.json, v2-tables.json).
              Default: <repo_root>/../shared/spec/fhir-r4
    OUT       output file. Default: <repo_root>/crates/conformance/data/r4-core.json.zlib
              (zlib-compressed, level 9, deterministic; the Rust side inflates it)

    Relative defaults are resolved from this script's location (repo_root is
    the parent of tools/), not from the current directory. The script uses only
    the standard library and its output is deterministic: input order is kept,
    and nothing depends on time, environment or dict/set iteration order.

Output
    {"fhirVersion":"4.0.1","generator":"tools/gen-r4-table.py",
     "structureDefinitions":[...],"valueSets":[...],"codeSystems":[...]}
    with no indentation and one array item per line, so diffs stay readable.

    What is kept (besides the SearchParameters of search-parameters.json, reduced to url, code,
    base, type, expression, target and component, for search index extraction):
    * StructureDefinition: resourceType, url, version, name, kind, abstract,
      type, baseDefinition, derivation, context, contextInvariant and
      snapshot.element. Each element keeps id, path, sliceName, min, max,
      base (path/min/max), type (code, profile, targetProfile, plus the
      structuredefinition-fhir-type and regex type extensions),
      contentReference, binding (strength, valueSet), constraint (key,
      severity, human, expression), slicing (discriminator, rules, ordered),
      maxLength, minValue[x], maxValue[x], isModifier, mustSupport, and
      fixed[x] / pattern[x].
      Dropped: differential, narrative, mappings, documentation, all element
      extensions, binding extensions, constraint xpath/source/extensions,
      defaultValue[x], meaningWhenMissing, representation, condition,
      isSummary, example.
    * ValueSet: resourceType, url, version, compose (include/exclude with
      system, version, concept[code], filter, valueSet) and expansion.contains
      (system, code, nested contains).
    * CodeSystem: resourceType, url, version, content, caseSensitive,
      hierarchyMeaning, valueSet, and concept as a tree of {code, concept}.
      Concept properties (e.g. notSelectable, status/deprecated),
      displays, definitions and designations are dropped.

Size
    The output is about 7.2 MB (about 420 KB gzipped). It does not meet the
    original ~4 MB target. About 6.1 MB of it is StructureDefinition snapshots,
    and about 2 MB of that is the ele-1 / ext-1 invariants that FHIR repeats on
    every snapshot element. HL7 v2 tables (v2-tables.json) are included because
    they add only about 0.23 MB; dropping them would not reach the target. Set
    INCLUDE_V2_TABLES to False to leave them out.
"""

import json
import zlib
import os
import sys

FHIR_VERSION = "4.0.1"
GENERATOR = "tools/gen-r4-table.py"

# v2 tables cost only ~0.23 MB of the ~7.2 MB output (measured when this
# script was written), so they are kept; see "Size" in the docstring.
INCLUDE_V2_TABLES = True
# Informational only: the size is printed and compared with the original target.
SIZE_TARGET = 4 * 1024 * 1024

SD_FILES = [
    "profiles-types.json",
    "profiles-resources.json",
    "profiles-others.json",
    "extension-definitions.json",
]
TERMINOLOGY_FILES = ["valuesets.json", "v3-codesystems.json"]
V2_FILE = "v2-tables.json"

SD_KEYS = [
    "resourceType", "url", "version", "name", "kind", "abstract", "type",
    "baseDefinition", "derivation", "context", "contextInvariant",
]
ELEMENT_KEYS = {
    "id", "path", "sliceName", "min", "max", "base", "type",
    "contentReference", "binding", "constraint", "slicing", "maxLength",
    "isModifier", "mustSupport",
}
ELEMENT_KEY_PREFIXES = ("fixed", "pattern", "minValue", "maxValue")
TYPE_EXTENSIONS = {
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
    "http://hl7.org/fhir/StructureDefinition/regex",
}


def pick(obj, keys):
    """Keep only `keys` of `obj`, in the source's key order."""
    return {k: v for k, v in obj.items() if k in keys}


def trim_type(t):
    out = {}
    for k, v in t.items():
        if k == "extension":
            exts = [e for e in v if e.get("url") in TYPE_EXTENSIONS]
            if exts:
                out[k] = exts
        elif k in ("code", "profile", "targetProfile"):
            out[k] = v
    return out


def trim_element(el):
    out = {}
    for k, v in el.items():
        if k in ELEMENT_KEYS:
            if k == "type":
                v = [trim_type(t) for t in v]
            elif k == "base":
                v = pick(v, {"path", "min", "max"})
            elif k == "binding":
                v = pick(v, {"strength", "valueSet"})
            elif k == "constraint":
                v = [pick(c, {"key", "severity", "human", "expression"}) for c in v]
            elif k == "slicing":
                v = pick(v, {"discriminator", "rules", "ordered"})
            out[k] = v
        elif k.startswith(ELEMENT_KEY_PREFIXES):
            out[k] = v
    return out


def trim_sd(sd):
    out = {k: sd[k] for k in SD_KEYS if k in sd}
    out["snapshot"] = {
        "element": [trim_element(el) for el in sd.get("snapshot", {}).get("element", [])]
    }
    return out


def trim_contains(items):
    out = []
    for c in items:
        o = pick(c, {"system", "code"})
        if c.get("contains"):
            o["contains"] = trim_contains(c["contains"])
        out.append(o)
    return out


def trim_vs(vs):
    out = pick(vs, {"resourceType", "url", "version"})
    compose = vs.get("compose")
    if compose:
        oc = {}
        for part in ("include", "exclude"):
            if part not in compose:
                continue
            items = []
            for inc in compose[part]:
                oi = {}
                for k, v in inc.items():
                    if k == "concept":
                        oi[k] = [{"code": c["code"]} for c in v]
                    elif k in ("system", "version", "filter", "valueSet"):
                        oi[k] = v
                items.append(oi)
            oc[part] = items
        out["compose"] = oc
    expansion = vs.get("expansion")
    if expansion and expansion.get("contains"):
        out["expansion"] = {"contains": trim_contains(expansion["contains"])}
    return out


def trim_concepts(concepts):
    out = []
    for c in concepts:
        o = {"code": c["code"]}
        if c.get("concept"):
            o["concept"] = trim_concepts(c["concept"])
        out.append(o)
    return out


def trim_cs(cs):
    out = pick(cs, {"resourceType", "url", "version", "content", "caseSensitive",
                    "hierarchyMeaning", "valueSet"})
    if cs.get("concept"):
        out["concept"] = trim_concepts(cs["concept"])
    return out


def resources(path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    if bundle.get("resourceType") != "Bundle":
        raise SystemExit(f"{path}: not a Bundle")
    for entry in bundle.get("entry", []):
        yield entry["resource"]


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


SEARCH_KEYS = ("resourceType", "url", "code", "base", "type", "expression", "target", "component")


def trim_sp(sp):
    """A SearchParameter reduced to what index extraction needs."""
    out = {k: sp[k] for k in SEARCH_KEYS if k in sp}
    if "component" in out:
        out["component"] = [{k: c[k] for k in ("definition", "expression") if k in c} for c in out["component"]]
    return out


def render(sds, vss, css, sps):
    def arr(items):
        return "[\n" + ",\n".join(dumps(i) for i in items) + "]"

    return (
        '{"fhirVersion":' + dumps(FHIR_VERSION)
        + ',"generator":' + dumps(GENERATOR)
        + ',"structureDefinitions":' + arr(sds)
        + ',\n"valueSets":' + arr(vss)
        + ',\n"codeSystems":' + arr(css)
        + ',\n"searchParameters":' + arr(sps)
        + "}\n"
    )


def main(argv):
    if len(argv) > 3 or any(a in ("-h", "--help") for a in argv[1:]):
        print(__doc__)
        return 0 if len(argv) <= 3 else 2
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec_dir = argv[1] if len(argv) > 1 else os.path.join(repo_root, "..", "shared", "spec", "fhir-r4")
    out_path = argv[2] if len(argv) > 2 else os.path.join(
        repo_root, "crates", "conformance", "data", "r4-core.json.zlib")
    spec_dir = os.path.normpath(spec_dir)

    sds = []
    for name in SD_FILES:
        for r in resources(os.path.join(spec_dir, name)):
            if r.get("resourceType") == "StructureDefinition":
                sds.append(trim_sd(r))

    term_files = TERMINOLOGY_FILES + ([V2_FILE] if INCLUDE_V2_TABLES else [])
    vss, css = [], []
    for name in term_files:
        for r in resources(os.path.join(spec_dir, name)):
            rt = r.get("resourceType")
            if rt == "ValueSet":
                vss.append(trim_vs(r))
            elif rt == "CodeSystem":
                css.append(trim_cs(r))

    sps = [trim_sp(r) for r in resources(os.path.join(spec_dir, "search-parameters.json"))
           if r.get("resourceType") == "SearchParameter"]

    text = render(sds, vss, css, sps)
    data = text.encode("utf-8")
    json.loads(text)  # sanity check: the output must be valid JSON

    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    packed = zlib.compress(data, 9)
    with open(out_path, "wb") as f:
        f.write(packed)

    print(f"wrote {out_path}: {len(packed)} bytes ({len(data)} bytes of JSON)")
    print(f"  structureDefinitions: {len(sds)}")
    print(f"  valueSets: {len(vss)}")
    print(f"  codeSystems: {len(css)}")
    print(f"  searchParameters: {len(sps)}")
    print(f"  v2 tables included: {'yes' if INCLUDE_V2_TABLES else 'no'}")
    if len(data) > SIZE_TARGET:
        print(f"  note: larger than the ~{SIZE_TARGET} byte target (see docstring)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
