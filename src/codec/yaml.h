/*
 * yaml.h - YAML streams to JSON documents and JSON values to YAML, with the
 * scalar semantics Kubernetes clients expect (sigs.k8s.io/yaml over go-yaml
 * v2, i.e. YAML 1.1).
 *
 * Parsing rules (plain, untagged scalars only; quoted and block scalars are
 * always strings):
 *   null ~ (empty)                          -> null
 *   y Y yes Yes YES n N no No NO true True TRUE false False FALSE
 *   on On ON off Off OFF                    -> booleans
 *   123 -7 +7 0x1F 0o17 017 0b101 1_000     -> integers (Go strconv base 0,
 *                                              underscores ignored)
 *   1.5 .5 1e3 -2.5E-3                      -> numbers; an integral float
 *                                              becomes an integer (1e3 -> 1000)
 *                                              as Go's JSON encoder writes it
 *   .inf -.inf .nan                         -> error: JSON cannot hold them
 *                                              (sigs.k8s.io/yaml fails too)
 *   2024-01-02 (timestamps), anything else  -> strings
 * Explicit tags: !!str and ! force strings, !!int/!!float/!!bool/!!null check
 * the type, !!binary is base64-decoded; other tags are ignored.
 * Mapping keys are converted to strings (1 -> "1", true -> "true"); null and
 * collection keys are errors.  Duplicate keys: the last one wins.  Anchors and
 * aliases are expanded (copied); `<<` merge keys take a mapping or a sequence
 * of mappings, explicit keys win over merged ones, earlier merged maps over
 * later ones.
 *
 * Limits against hostile input: GT_YAML_MAX_INPUT bytes, GT_YAML_MAX_DEPTH
 * nested collections, GT_YAML_MAX_NODES values per stream, of which at most
 * GT_YAML_MAX_ALIAS_NODES come from alias expansion (alias bombs).  Parsing is
 * iterative (libyaml events): no recursion on input depth.
 */
#ifndef GT_CODEC_YAML_H
#define GT_CODEC_YAML_H

#include <stddef.h>

#include "codec/json.h"

#define GT_YAML_MAX_INPUT       (16u << 20)
#define GT_YAML_MAX_DEPTH       256
#define GT_YAML_MAX_NODES       1000000
#define GT_YAML_MAX_ALIAS_NODES 100000

/*
 * Parses buf[0..len) (UTF-8, or UTF-16 with a BOM) as a YAML stream into a
 * new JSON array with one element per document; documents that are empty or
 * null are skipped (so "---\n---\n" yields []).  *docs is a new reference
 * (caller json_decref()s), set only on success.  Returns 0, -EINVAL with
 * "invalid YAML at line L, column C: ..." (1-based), or -E2BIG when len
 * exceeds GT_YAML_MAX_INPUT.  Thread-safe.
 */
int gt_yaml_to_json(const char *buf, size_t len, json_t **docs, struct gt_err *err);

/*
 * Appends v as one YAML document to out (initialised on demand), the way
 * `kubectl get -o yaml` prints: block style, keys sorted as go-yaml sorts
 * them, two-space indentation, strings double-quoted when they would read
 * back as another type ("yes", "1", "", "2024-01-01"), multi-line strings as
 * literal blocks, no "---" line.  Returns 0, or -EINVAL when v nests deeper
 * than 1000 levels.  out is the caller's.
 */
int gt_yaml_from_json(const json_t *v, struct gt_buf *out);

#endif
