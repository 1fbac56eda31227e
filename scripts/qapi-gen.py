#!/usr/bin/python3
"""qio's QAPI generator: the schema in qapi/*.json to C and to docs.

The schema language is QEMU's: a file is a sequence of JSON-like
expressions (single-quoted strings, '#' comments), each one definition:

    { 'enum': 'E', 'data': [ 'a', 'b' ] }
    { 'struct': 'S', 'base': 'B', 'data': { 'x': 'int', '*opt': 'str' } }
    { 'union': 'U', 'base': { 'type': 'E' }, 'discriminator': 'type',
      'data': { 'a': 'SA', 'b': 'SB' } }
    { 'alternate': 'A', 'data': { 's': 'str', 'n': 'int' } }
    { 'command': 'c', 'data': { ... } or 'S', 'returns': 'S' or ['S'],
      'boxed': true }
    { 'event': 'EV', 'data': { ... } }
    { 'include': 'other.json' }
    { 'pragma': { 'doc-required': true, ... } }

'##' blocks document the definition that follows them (@member: lines,
Returns:, Since:, Example: sections).  A mistake in the schema stops the
generator with "FILE:LINE: message" and exit status 1.

Usage:
    qapi-gen.py [-o DIR] [-p PREFIX] [--builtins] [--doc FILE]
                [--unmask] SCHEMA

writes, for the main file and each module MOD it includes,
PREFIXqapi-types[-MOD].{c,h}, PREFIXqapi-visit[-MOD].{c,h},
PREFIXqapi-commands[-MOD].{c,h}, PREFIXqapi-events[-MOD].{c,h}, and
PREFIXqapi-init-commands.{c,h}, PREFIXqapi-introspect.{c,h}; with
--builtins also qapi-builtin-types.{c,h} and qapi-builtin-visit.{c,h};
with --doc the command reference in Markdown.  Only the python standard
library is used.
"""

import argparse
import json
import os
import re
import textwrap
import sys

# ---------------------------------------------------------------------------
# Errors


class SchemaError(Exception):
    """A mistake in the schema, reported as FILE:LINE: message."""

    def __init__(self, info, msg):
        super().__init__(msg)
        self.info = info
        self.msg = msg

    def __str__(self):
        if self.info is None:
            return self.msg
        return "%s:%d: %s" % (self.info.fname, self.info.line, self.msg)


class Info:
    """Where something is: file, line, and the module it belongs to."""

    def __init__(self, fname, line, module):
        self.fname = fname
        self.line = line
        self.module = module

    def at(self, line):
        return Info(self.fname, line, self.module)


# ---------------------------------------------------------------------------
# Parsing


class Doc:
    """One '##' block: the symbol it documents, its text, member docs and
    tagged sections."""

    SECTION_TAGS = ("Returns", "Since", "Example", "Examples", "Note",
                    "Notes", "Errors")

    def __init__(self, info):
        self.info = info
        self.symbol = None
        self.heading = None   # (level, text) for a free-form "= Title" block
        self.body = []
        self.args = {}        # member name -> [lines]
        self.arg_info = {}
        self.features = {}    # feature name -> [lines]
        self.sections = []    # (tag, [lines])

    def parse(self, lines):
        """@lines: (line number, text without the leading '#')."""
        if not lines:
            raise SchemaError(self.info, "documentation comment is empty")
        first_no, first = lines[0]
        first = first.strip()
        m = re.match(r"^(=+) *(\S.*)$", first)
        if m:
            self.heading = (len(m.group(1)), m.group(2))
            self.body = [t for _, t in lines[1:]]
            return
        m = re.match(r"^@([^:\s]+):$", first)
        if not m:
            self.body = [t for _, t in lines]
            return
        self.symbol = m.group(1)
        state = "body"
        current = self.body
        for no, text in lines[1:]:
            stripped = text.strip()
            m = re.match(r"^@([^:\s]+):(.*)$", stripped)
            tag = re.match(r"^(%s):(.*)$" % "|".join(self.SECTION_TAGS),
                           stripped)
            if stripped == "Features:":
                state = "features"
                current = []
            elif m and state in ("body", "args", "features"):
                name = m.group(1)
                table = self.features if state == "features" else self.args
                if name in table:
                    raise SchemaError(self.info.at(no),
                                      "'@%s:' is documented twice" % name)
                current = [m.group(2).strip()] if m.group(2).strip() else []
                table[name] = current
                self.arg_info[name] = self.info.at(no)
                if state == "body":
                    state = "args"
            elif tag:
                state = "section"
                current = [tag.group(2).strip()] if tag.group(2).strip() \
                    else []
                self.sections.append((tag.group(1), current))
            else:
                if state in ("args", "features") and stripped and \
                        not text.startswith("  ") and current is not \
                        self.body:
                    # unindented text after the members: body again
                    state = "body"
                    current = self.body
                current.append(text.strip() if state != "section"
                               else text.rstrip())


class Parser:
    """Reads one schema file (and, through include, the files it names)."""

    def __init__(self, fname, module=None, included=None, state=None):
        self.fname = fname
        self.included = included if included is not None else set()
        self.included.add(os.path.abspath(fname))
        self.module = module if module is not None else fname
        self.state = state if state is not None else {
            "exprs": [], "pragma": {"doc-required": False,
                                    "command-name-exceptions": [],
                                    "member-name-exceptions": []},
            "modules": [], "module_docs": {}, "includes": {}}
        self.state["modules"].append(self.module)
        self.state["includes"].setdefault(self.module, [])
        try:
            with open(fname, encoding="utf-8") as f:
                self.src = f.read()
        except OSError as e:
            raise SchemaError(None, "%s: can't read schema: %s"
                              % (fname, e.strerror))
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.tok = None
        self.val = None
        self.tok_line = 1

    def info(self, line=None):
        return Info(self.fname, line or self.tok_line, self.module)

    def error(self, msg):
        raise SchemaError(self.info(), msg)

    # -- lexer --

    def advance(self):
        """Set self.tok to the next token: one of '{}[]:,' , "'" (a
        string in self.val), 'b' (a boolean in self.val), 'doc' (lines in
        self.val) or None at the end."""
        while True:
            if self.pos >= len(self.src):
                self.tok = None
                self.tok_line = self.line
                return
            ch = self.src[self.pos]
            self.tok_line = self.line
            if ch == "\n":
                self.pos += 1
                self.line += 1
                self.line_start = self.pos
                continue
            if ch in " \t\r":
                self.pos += 1
                continue
            if ch == "#":
                end = self.src.find("\n", self.pos)
                end = len(self.src) if end < 0 else end
                text = self.src[self.pos:end]
                at_line_start = self.src[self.line_start:self.pos].strip() \
                    == ""
                if text.rstrip() == "##" and at_line_start:
                    self.read_doc()
                    return
                self.pos = end
                continue
            if ch in "{}[]:,":
                self.tok = ch
                self.pos += 1
                return
            if ch == "'":
                self.read_string()
                return
            for word, value in (("true", True), ("false", False)):
                if self.src.startswith(word, self.pos):
                    self.tok = "b"
                    self.val = value
                    self.pos += len(word)
                    return
            if ch == '"':
                self.error("strings are quoted with ', not \"")
            self.error("stray '%s'" % ch)

    def read_string(self):
        self.pos += 1
        out = []
        while True:
            if self.pos >= len(self.src) or self.src[self.pos] == "\n":
                self.error("missing terminating \"'\"")
            ch = self.src[self.pos]
            self.pos += 1
            if ch == "'":
                break
            if ch == "\\":
                if self.pos >= len(self.src):
                    self.error("missing terminating \"'\"")
                esc = self.src[self.pos]
                self.pos += 1
                if esc not in "\\'\"/":
                    self.error("unknown escape \\%s" % esc)
                ch = esc
            elif ord(ch) < 32 or ord(ch) > 126:
                self.error("funny character in string")
            out.append(ch)
        self.tok = "'"
        self.val = "".join(out)

    def read_doc(self):
        """A '##' block; self.pos is at its first '##'."""
        start = self.line
        lines = []
        self.pos = self.src.find("\n", self.pos)
        while True:
            if self.pos < 0 or self.pos >= len(self.src):
                raise SchemaError(Info(self.fname, start, self.module),
                                  "documentation comment is not closed "
                                  "with '##'")
            self.pos += 1
            self.line += 1
            self.line_start = self.pos
            if self.pos >= len(self.src):
                raise SchemaError(Info(self.fname, start, self.module),
                                  "documentation comment is not closed "
                                  "with '##'")
            end = self.src.find("\n", self.pos)
            end = len(self.src) if end < 0 else end
            text = self.src[self.pos:end].strip()
            if text == "##":
                self.pos = end
                break
            if not text.startswith("#"):
                raise SchemaError(self.info(self.line),
                                  "documentation comment line must start "
                                  "with '#'")
            body = text[1:]
            if body and not body.startswith(" "):
                raise SchemaError(self.info(self.line),
                                  "documentation comment text must follow "
                                  "'# '")
            lines.append((self.line, body[1:] if body else ""))
            self.pos = end
        self.tok = "doc"
        self.tok_line = start
        self.val = lines

    # -- grammar --

    def get_value(self):
        if self.tok == "{":
            return self.get_object()
        if self.tok == "[":
            return self.get_array()
        if self.tok in ("'", "b"):
            val = self.val
            self.advance()
            return val
        self.error("expected '{', '[', string, or boolean")

    def get_object(self):
        obj = {}
        self.advance()
        if self.tok == "}":
            self.advance()
            return obj
        while True:
            if self.tok != "'":
                self.error("expected string as object key")
            key = self.val
            key_line = self.tok_line
            self.advance()
            if self.tok != ":":
                self.error("expected ':'")
            self.advance()
            if key in obj:
                raise SchemaError(self.info(key_line),
                                  "duplicate key '%s'" % key)
            obj[key] = self.get_value()
            if self.tok == "}":
                self.advance()
                return obj
            if self.tok != ",":
                self.error("expected ',' or '}'")
            self.advance()

    def get_array(self):
        arr = []
        self.advance()
        if self.tok == "]":
            self.advance()
            return arr
        while True:
            arr.append(self.get_value())
            if self.tok == "]":
                self.advance()
                return arr
            if self.tok != ",":
                self.error("expected ',' or ']'")
            self.advance()

    def parse(self):
        self.advance()
        doc = None
        while self.tok is not None:
            if self.tok == "doc":
                d = Doc(self.info())
                d.parse(self.val)
                if d.symbol is None:
                    if doc is not None:
                        raise SchemaError(doc.info, "documentation for '%s' "
                                          "is not followed by its definition"
                                          % doc.symbol)
                    self.state["module_docs"].setdefault(
                        self.module, []).append(d)
                else:
                    if doc is not None:
                        raise SchemaError(doc.info, "documentation for '%s' "
                                          "is not followed by its definition"
                                          % doc.symbol)
                    doc = d
                self.advance()
                continue
            if self.tok != "{":
                self.error("expected '{' to start a definition")
            line = self.tok_line
            expr = self.get_object()
            info = self.info(line)
            if "include" in expr:
                if doc is not None:
                    raise SchemaError(doc.info, "documentation for '%s' is "
                                      "followed by an include, not by its "
                                      "definition" % doc.symbol)
                self.include(expr, info)
            elif "pragma" in expr:
                if doc is not None:
                    raise SchemaError(doc.info, "documentation for '%s' is "
                                      "followed by a pragma" % doc.symbol)
                self.pragma(expr, info)
            else:
                self.state["exprs"].append((expr, info, doc))
                doc = None
        if doc is not None:
            raise SchemaError(doc.info, "documentation for '%s' is not "
                              "followed by its definition" % doc.symbol)

    def include(self, expr, info):
        if set(expr) != {"include"}:
            raise SchemaError(info, "invalid 'include' directive")
        name = expr["include"]
        if not isinstance(name, str):
            raise SchemaError(info, "value of 'include' must be a string")
        path = os.path.join(os.path.dirname(self.fname), name)
        module = os.path.splitext(os.path.basename(name))[0]
        self.state["includes"][self.module].append(module)
        if os.path.abspath(path) in self.included:
            return
        if not os.path.isfile(path):
            raise SchemaError(info, "can't read include file '%s'" % name)
        Parser(path, module, self.included, self.state).parse()

    def pragma(self, expr, info):
        if set(expr) != {"pragma"} or not isinstance(expr["pragma"], dict):
            raise SchemaError(info, "value of 'pragma' must be an object")
        for key, value in expr["pragma"].items():
            if key == "doc-required":
                if not isinstance(value, bool):
                    raise SchemaError(info, "pragma 'doc-required' must be "
                                      "true or false")
                self.state["pragma"][key] = value
            elif key in ("command-name-exceptions",
                         "member-name-exceptions"):
                if not isinstance(value, list) or \
                        not all(isinstance(v, str) for v in value):
                    raise SchemaError(info, "pragma '%s' must be a list of "
                                      "strings" % key)
                self.state["pragma"][key] += value
            else:
                raise SchemaError(info, "unknown pragma '%s'" % key)


# ---------------------------------------------------------------------------
# C names

C_RESERVED = set("""
auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed
sizeof static struct switch typedef union unsigned void volatile while
_Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
_Static_assert _Thread_local asm typeof unix linux errno bool true false
""".split())


def c_name(name):
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if out in C_RESERVED or out[:1].isdigit():
        out = "q_" + out
    return out


def camel_to_upper(name):
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and out[-1] != "_":
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if prev.islower() or prev.isdigit() or \
                    (prev.isupper() and nxt.islower()):
                out += "_"
        out += ch.upper()
    return re.sub(r"[^A-Z0-9_]", "_", out)


# ---------------------------------------------------------------------------
# The schema as entities


class Entity:
    meta = None

    def __init__(self, name, info, doc, features):
        self.name = name
        self.info = info
        self.doc = doc
        self.features = features or []

    @property
    def module(self):
        return self.info.module if self.info else None

    def c_name(self):
        return c_name(self.name)


class Builtin(Entity):
    meta = "builtin"

    def __init__(self, name, c_type, json_type, param_type=None):
        super().__init__(name, None, None, None)
        self.c_type_ = c_type
        self.json_type = json_type
        self.param_type = param_type or c_type

    def c_type(self):
        return self.c_type_

    def is_pointer(self):
        return self.c_type_.endswith("*")

    def kinds(self):
        return {"string": {"string"}, "int": {"int"},
                "number": {"int", "number"}, "boolean": {"bool"},
                "null": {"null"}, "value": None}[self.json_type]

    def visit_fn(self):
        return "visit_type_" + self.name

    def intro_name(self):
        if self.json_type == "int":
            return "int"
        return self.name


BUILTINS = [
    Builtin("str", "char *", "string", "const char *"),
    Builtin("number", "double", "number"),
    Builtin("int", "int64_t", "int"),
    Builtin("int8", "int8_t", "int"),
    Builtin("int16", "int16_t", "int"),
    Builtin("int32", "int32_t", "int"),
    Builtin("int64", "int64_t", "int"),
    Builtin("uint8", "uint8_t", "int"),
    Builtin("uint16", "uint16_t", "int"),
    Builtin("uint32", "uint32_t", "int"),
    Builtin("uint64", "uint64_t", "int"),
    Builtin("size", "uint64_t", "int"),
    Builtin("bool", "bool", "boolean"),
    Builtin("null", None, "null"),
    Builtin("any", "JsonNode *", "value"),
]


class Enum(Entity):
    meta = "enum"

    def __init__(self, name, info, doc, features, values, prefix):
        super().__init__(name, info, doc, features)
        self.values = values  # [(name, features, info)]
        self.prefix = prefix

    def c_type(self):
        return self.c_name()

    def is_pointer(self):
        return False

    def kinds(self):
        return {"string"}

    def visit_fn(self):
        return "visit_type_" + self.c_name()

    def constant(self, value):
        prefix = self.prefix or camel_to_upper(self.name)
        return prefix + "_" + c_name(value).upper()

    def max_constant(self):
        return (self.prefix or camel_to_upper(self.name)) + "__MAX"


class Array(Entity):
    meta = "array"

    def __init__(self, element):
        super().__init__(element.name + "List", element.info, None, None)
        self.element = element

    def c_type(self):
        return self.c_name() + " *"

    def c_name(self):
        return self.element.c_name() + "List"

    def is_pointer(self):
        return True

    def kinds(self):
        return {"array"}

    def visit_fn(self):
        return "visit_type_" + self.c_name()


class Member:
    def __init__(self, name, type_ref, optional, features, info):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.optional = optional
        self.features = features
        self.info = info

    def c_name(self):
        return c_name(self.name)

    def needs_has(self):
        return self.optional and not self.type.is_pointer()


class Object(Entity):
    meta = "object"

    def __init__(self, name, info, doc, features, base_ref, members,
                 tag=None, branches=None, implicit=False, kind="struct"):
        super().__init__(name, info, doc, features)
        self.base_ref = base_ref
        self.base = None
        self.members = members       # own members
        self.tag = tag               # discriminator name, for unions
        self.tag_member = None
        self.branches = branches     # [(case, type_ref, info)] for unions
        self.implicit = implicit
        self.kind = kind

    def c_type(self):
        return self.c_name() + " *"

    def is_pointer(self):
        return True

    def kinds(self):
        return {"object"}

    def visit_fn(self):
        return "visit_type_" + self.c_name()

    def all_members(self):
        base = self.base.all_members() if self.base else []
        return base + self.members

    def is_empty(self):
        return not self.all_members() and not self.branches


class Alternate(Entity):
    meta = "alternate"

    def __init__(self, name, info, doc, features, branches):
        super().__init__(name, info, doc, features)
        self.branches = branches  # [Member]

    def c_type(self):
        return self.c_name() + " *"

    def is_pointer(self):
        return True

    def kinds(self):
        return None

    def visit_fn(self):
        return "visit_type_" + self.c_name()


class Command(Entity):
    meta = "command"

    def __init__(self, name, info, doc, features, arg_ref, ret_ref, boxed,
                 success_response, allow_oob, allow_preconfig):
        super().__init__(name, info, doc, features)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.ret_ref = ret_ref
        self.ret_type = None
        self.boxed = boxed
        self.success_response = success_response
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig


class Event(Entity):
    meta = "event"

    def __init__(self, name, info, doc, features, arg_ref, boxed):
        super().__init__(name, info, doc, features)
        self.arg_ref = arg_ref
        self.arg_type = None
        self.boxed = boxed


# ---------------------------------------------------------------------------
# Checking expressions and building entities

NAME_RE = {
    "type": re.compile(r"^[A-Z][A-Za-z0-9]*$"),
    "command": re.compile(r"^[a-z][a-z0-9-]*$"),
    "event": re.compile(r"^[A-Z][A-Z0-9_]*$"),
    "member": re.compile(r"^[a-z][a-z0-9-]*$"),
    "value": re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    "feature": re.compile(r"^[a-z][a-z0-9-]*$"),
}

KEYS = {
    "enum": ({"enum", "data"}, {"prefix", "features"}),
    "struct": ({"struct", "data"}, {"base", "features"}),
    "union": ({"union", "base", "discriminator", "data"}, {"features"}),
    "alternate": ({"alternate", "data"}, {"features"}),
    "command": ({"command"}, {"data", "returns", "boxed", "features",
                              "success-response", "allow-oob",
                              "allow-preconfig", "gen", "coroutine"}),
    "event": ({"event"}, {"data", "boxed", "features"}),
}


class Schema:
    def __init__(self, fname):
        parser = Parser(fname, module="main")
        parser.parse()
        state = parser.state
        self.pragma = state["pragma"]
        self.modules = state["modules"]
        self.module_docs = state["module_docs"]
        self.includes = state["includes"]
        self.main_fname = fname
        self.entities = []
        self.types = {}
        for b in BUILTINS:
            self.types[b.name] = b
        self.arrays = {}
        self.names = {}   # every defined name -> info, for clashes
        for expr, info, doc in state["exprs"]:
            self.define(expr, info, doc)
        self.check()

    # -- pass 1: shapes --

    def define(self, expr, info, doc):
        metas = [k for k in KEYS if k in expr]
        if len(metas) != 1:
            raise SchemaError(info, "expression must have exactly one of "
                              "'enum', 'struct', 'union', 'alternate', "
                              "'command', 'event', 'include', 'pragma'")
        meta = metas[0]
        name = expr[meta]
        if not isinstance(name, str):
            raise SchemaError(info, "'%s' must name a definition with a "
                              "string" % meta)
        what = "%s '%s'" % (meta, name)
        required, optional = KEYS[meta]
        for key in expr:
            if key == "if":
                raise SchemaError(info, "%s: 'if' conditions are not "
                                  "supported" % what)
            if key not in required and key not in optional:
                raise SchemaError(info, "%s has unknown key '%s'"
                                  % (what, key))
        for key in sorted(required):
            if key not in expr:
                raise SchemaError(info, "%s lacks '%s'" % (what, key))
        kind = "type" if meta in ("enum", "struct", "union", "alternate") \
            else meta
        if name in self.names or name in self.types:
            raise SchemaError(info, "'%s' is already defined" % name)
        if not NAME_RE[kind].match(name) and not (
                meta == "command" and
                name in self.pragma["command-name-exceptions"]):
            raise SchemaError(info, "%s: name '%s' breaks the naming rule "
                              "for %ss" % (what, name, kind))
        self.names[name] = info
        features = self.features(expr.get("features"), info, what)
        self.check_doc(doc, name, info)

        if meta == "enum":
            ent = self.make_enum(expr, info, doc, features, what)
        elif meta == "struct":
            ent = Object(name, info, doc, features,
                         self.type_ref(expr.get("base"), info, what, "base"),
                         self.members(expr["data"], info, what))
        elif meta == "union":
            ent = self.make_union(expr, info, doc, features, what)
        elif meta == "alternate":
            data = expr["data"]
            if not isinstance(data, dict) or not data:
                raise SchemaError(info, "%s: 'data' must be an object with "
                                  "at least one branch" % what)
            ent = Alternate(name, info, doc, features,
                            self.members(data, info, what, alternate=True))
        elif meta == "command":
            ent = self.make_command(expr, info, doc, features, what)
        else:
            boxed = self.flag(expr, "boxed", info, what)
            arg = self.arg_ref(expr.get("data"), info, what, name, boxed)
            ent = Event(name, info, doc, features, arg, boxed)
        self.entities.append(ent)
        if kind == "type":
            self.types[name] = ent

    def flag(self, expr, key, info, what, default=False):
        value = expr.get(key, default)
        if not isinstance(value, bool):
            raise SchemaError(info, "%s: '%s' must be true or false"
                              % (what, key))
        return value

    def features(self, value, info, what):
        if value is None:
            return []
        if not isinstance(value, list):
            raise SchemaError(info, "%s: 'features' must be a list" % what)
        out = []
        for f in value:
            if isinstance(f, dict):
                if set(f) != {"name"}:
                    raise SchemaError(info, "%s: a feature is a string or "
                                      "{'name': ...}" % what)
                f = f["name"]
            if not isinstance(f, str) or not NAME_RE["feature"].match(f):
                raise SchemaError(info, "%s: invalid feature %r"
                                  % (what, f))
            if f in out:
                raise SchemaError(info, "%s: feature '%s' given twice"
                                  % (what, f))
            out.append(f)
        return out

    def type_ref(self, value, info, what, key, allow_array=False):
        """A reference to a type by name: a string, or [string]."""
        if value is None:
            return None
        if isinstance(value, list):
            if not allow_array:
                raise SchemaError(info, "%s: '%s' cannot be an array"
                                  % (what, key))
            if len(value) != 1 or not isinstance(value[0], str):
                raise SchemaError(info, "%s: '%s': an array type is written "
                                  "['TYPE'] with one type name" % (what, key))
            return [value[0]]
        if not isinstance(value, str):
            raise SchemaError(info, "%s: '%s' must name a type"
                              % (what, key))
        return value

    def members(self, data, info, what, alternate=False):
        if not isinstance(data, dict):
            raise SchemaError(info, "%s: 'data' must be an object" % what)
        out = []
        seen = {}
        for key, value in data.items():
            optional = key.startswith("*")
            name = key[1:] if optional else key
            mwhat = "%s member '%s'" % (what, name)
            if optional and alternate:
                raise SchemaError(info, "%s: alternate branches cannot be "
                                  "optional" % mwhat)
            if not NAME_RE["member"].match(name) and \
                    name not in self.pragma["member-name-exceptions"]:
                raise SchemaError(info, "%s: name breaks the naming rule for "
                                  "members" % mwhat)
            if name.startswith("has-") or name == "u":
                raise SchemaError(info, "%s: the name is reserved" % mwhat)
            cname = c_name(name)
            if cname in seen:
                raise SchemaError(info, "%s clashes with member '%s'"
                                  % (mwhat, seen[cname]))
            seen[cname] = name
            features = []
            if isinstance(value, dict):
                for k in value:
                    if k not in ("type", "features"):
                        raise SchemaError(info, "%s has unknown key '%s'"
                                          % (mwhat, k))
                if "type" not in value:
                    raise SchemaError(info, "%s lacks 'type'" % mwhat)
                features = self.features(value.get("features"), info, mwhat)
                value = value["type"]
            ref = self.type_ref(value, info, mwhat, "type",
                                allow_array=True)
            out.append(Member(name, ref, optional, features, info))
        return out

    def make_enum(self, expr, info, doc, features, what):
        data = expr["data"]
        if not isinstance(data, list):
            raise SchemaError(info, "%s: 'data' must be a list" % what)
        values = []
        seen = {}
        for v in data:
            vfeatures = []
            if isinstance(v, dict):
                for k in v:
                    if k not in ("name", "features"):
                        raise SchemaError(info, "%s value has unknown key "
                                          "'%s'" % (what, k))
                if "name" not in v:
                    raise SchemaError(info, "%s value lacks 'name'" % what)
                vfeatures = self.features(v.get("features"), info, what)
                v = v["name"]
            if not isinstance(v, str) or not NAME_RE["value"].match(v):
                raise SchemaError(info, "%s: invalid value %r" % (what, v))
            cname = c_name(v).upper()
            if cname in seen:
                raise SchemaError(info, "%s: value '%s' clashes with '%s'"
                                  % (what, v, seen[cname]))
            seen[cname] = v
            values.append((v, vfeatures))
        prefix = expr.get("prefix")
        if prefix is not None and (not isinstance(prefix, str) or
                                   not re.match(r"^[A-Z][A-Z0-9_]*$",
                                                prefix)):
            raise SchemaError(info, "%s: 'prefix' must be an upper-case C "
                              "identifier" % what)
        return Enum(expr["enum"], info, doc, features, values, prefix)

    def make_union(self, expr, info, doc, features, what):
        name = expr["union"]
        base = expr["base"]
        if isinstance(base, dict):
            implicit = Object("q_obj_%s-base" % name, info, doc, [], None,
                              self.members(base, info, what + " base"),
                              implicit=True)
            self.entities.append(implicit)
            self.types[implicit.name] = implicit
            base = implicit.name
        else:
            base = self.type_ref(base, info, what, "base")
        tag = expr["discriminator"]
        if not isinstance(tag, str):
            raise SchemaError(info, "%s: 'discriminator' must be a string"
                              % what)
        data = expr["data"]
        if not isinstance(data, dict):
            raise SchemaError(info, "%s: 'data' must be an object" % what)
        branches = []
        for case, value in data.items():
            if isinstance(value, dict):
                for k in value:
                    if k != "type":
                        raise SchemaError(info, "%s branch '%s' has unknown "
                                          "key '%s'" % (what, case, k))
                value = value.get("type")
            if not isinstance(value, str):
                raise SchemaError(info, "%s branch '%s' must name a type"
                                  % (what, case))
            branches.append((case, value, info))
        return Object(name, info, doc, features, base, [], tag, branches,
                      kind="union")

    def arg_ref(self, data, info, what, name, boxed):
        if data is None:
            if boxed:
                raise SchemaError(info, "%s: 'boxed': true needs 'data'"
                                  % what)
            return None
        if isinstance(data, dict):
            if boxed:
                raise SchemaError(info, "%s: 'boxed': true needs 'data' to "
                                  "name a type" % what)
            implicit = Object("q_obj_%s-arg" % name, info, None, [], None,
                              self.members(data, info, what),
                              implicit=True)
            self.entities.append(implicit)
            self.types[implicit.name] = implicit
            return implicit.name
        return self.type_ref(data, info, what, "data")

    def make_command(self, expr, info, doc, features, what):
        name = expr["command"]
        if not self.flag(expr, "gen", info, what, True):
            raise SchemaError(info, "%s: 'gen': false is not supported; "
                              "every command is marshalled" % what)
        if self.flag(expr, "coroutine", info, what):
            raise SchemaError(info, "%s: 'coroutine' is not supported"
                              % what)
        boxed = self.flag(expr, "boxed", info, what)
        arg = self.arg_ref(expr.get("data"), info, what, name, boxed)
        ret = self.type_ref(expr.get("returns"), info, what, "returns",
                            allow_array=True)
        return Command(name, info, doc, features, arg, ret, boxed,
                       self.flag(expr, "success-response", info, what, True),
                       self.flag(expr, "allow-oob", info, what),
                       self.flag(expr, "allow-preconfig", info, what))

    def check_doc(self, doc, name, info):
        if doc is None:
            if self.pragma["doc-required"]:
                raise SchemaError(info, "definition '%s' lacks documentation"
                                  % name)
            return
        if doc.symbol != name:
            raise SchemaError(doc.info, "documentation comment is for '%s', "
                              "but the definition that follows is '%s'"
                              % (doc.symbol, name))

    # -- pass 2: references --

    def lookup(self, ref, info, what, user_module):
        if ref is None:
            return None
        if isinstance(ref, list):
            element = self.lookup(ref[0], info, what, user_module)
            if isinstance(element, Array):
                raise SchemaError(info, "%s: arrays of arrays are not "
                                  "supported" % what)
            if element.name == "null":
                raise SchemaError(info, "%s: 'null' can only be an alternate "
                                  "branch" % what)
            return self.array_of(element)
        typ = self.types.get(ref)
        if typ is None:
            raise SchemaError(info, "%s uses unknown type '%s'" % (what, ref))
        if typ.module is not None and user_module is not None and \
                typ.module not in self.visible_modules(user_module):
            raise SchemaError(info, "%s uses type '%s' of module '%s', which "
                              "module '%s' does not include"
                              % (what, ref, typ.module, user_module))
        return typ

    def visible_modules(self, module):
        seen = set()
        todo = [module]
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo += self.includes.get(m, [])
        return seen

    def array_of(self, element):
        if element.name not in self.arrays:
            self.arrays[element.name] = Array(element)
        return self.arrays[element.name]

    def check(self):
        for ent in self.entities:
            what = "%s '%s'" % (ent.meta if not isinstance(ent, Object)
                                else ent.kind, ent.name)
            if isinstance(ent, Object):
                self.check_object(ent, what)
            elif isinstance(ent, Alternate):
                self.check_alternate(ent, what)
            elif isinstance(ent, Command):
                ent.arg_type = self.arg_type(ent, what)
                ent.ret_type = self.lookup(ent.ret_ref, ent.info,
                                           what, ent.module)
                if ent.ret_type is not None and ent.ret_type.name == "null":
                    raise SchemaError(ent.info, "%s: 'null' can only be an "
                                      "alternate branch" % what)
                if not ent.success_response and ent.ret_type is not None:
                    raise SchemaError(ent.info, "%s: 'success-response': "
                                      "false and 'returns' conflict" % what)
            elif isinstance(ent, Event):
                ent.arg_type = self.arg_type(ent, what)
        for ent in self.entities:
            if isinstance(ent, Object):
                self.check_object_late(ent, "%s '%s'" % (ent.kind, ent.name))
        for ent in self.entities:
            self.check_member_docs(ent)

    def arg_type(self, ent, what):
        typ = self.lookup(ent.arg_ref, ent.info, what + " 'data'", ent.module)
        if typ is None:
            return None
        if not isinstance(typ, Object):
            raise SchemaError(ent.info, "%s: 'data' must be an object type, "
                              "not '%s'" % (what, typ.name))
        if typ.branches is not None and not ent.boxed:
            raise SchemaError(ent.info, "%s: a union as 'data' needs "
                              "'boxed': true" % what)
        return typ

    def resolve_members(self, members, ent, what):
        for m in members:
            m.type = self.lookup(m.type_ref, m.info,
                                 "%s member '%s'" % (what, m.name),
                                 ent.module)
            if m.type.name == "null" and not isinstance(ent, Alternate):
                raise SchemaError(m.info, "%s member '%s': 'null' can only "
                                  "be an alternate branch" % (what, m.name))

    def check_object(self, ent, what):
        self.resolve_members(ent.members, ent, what)
        if ent.base_ref is not None:
            base = self.lookup(ent.base_ref, ent.info, what + " base",
                               ent.module)
            if not isinstance(base, Object) or base.branches:
                raise SchemaError(ent.info, "%s: base '%s' must be a struct "
                                  "type" % (what, ent.base_ref))
            ent.base = base
        if ent.branches is not None:
            if ent.base is None:
                raise SchemaError(ent.info, "%s lacks a base" % what)

    def check_object_late(self, ent, what):
        # cycles through bases, clashes with base members
        seen = set()
        b = ent
        while b is not None:
            if b.name in seen:
                raise SchemaError(ent.info, "%s: its base chain loops"
                                  % what)
            seen.add(b.name)
            b = b.base
        names = {}
        for m in ent.all_members():
            if m.c_name() in names:
                raise SchemaError(ent.info, "%s: member '%s' clashes with "
                                  "member '%s' of its base"
                                  % (what, m.name, names[m.c_name()]))
            names[m.c_name()] = m.name
        if ent.branches is None:
            return
        tag = [m for m in ent.base.all_members() if m.name == ent.tag]
        if not tag:
            raise SchemaError(ent.info, "%s: discriminator '%s' is not a "
                              "member of the base" % (what, ent.tag))
        tag = tag[0]
        if not isinstance(tag.type, Enum):
            raise SchemaError(ent.info, "%s: discriminator '%s' must be of "
                              "an enum type" % (what, ent.tag))
        if tag.optional:
            raise SchemaError(ent.info, "%s: discriminator '%s' must not be "
                              "optional" % (what, ent.tag))
        ent.tag_member = tag
        values = [v for v, _ in tag.type.values]
        resolved = []
        for case, ref, info in ent.branches:
            if case not in values:
                raise SchemaError(info, "%s: branch '%s' is not a value of "
                                  "%s" % (what, case, tag.type.name))
            typ = self.lookup(ref, info, "%s branch '%s'" % (what, case),
                              ent.module)
            if not isinstance(typ, Object):
                raise SchemaError(info, "%s: branch '%s' must be an object "
                                  "type, not '%s'" % (what, case, ref))
            for m in typ.all_members():
                if m.c_name() in names:
                    raise SchemaError(info, "%s: member '%s' of branch '%s' "
                                      "clashes with member '%s'"
                                      % (what, m.name, case,
                                         names[m.c_name()]))
            resolved.append((case, typ, info))
        ent.branches = resolved

    def check_alternate(self, ent, what):
        self.resolve_members(ent.branches, ent, what)
        taken = {}
        for m in ent.branches:
            if isinstance(m.type, Alternate) or m.type.name == "any":
                raise SchemaError(ent.info, "%s: branch '%s' cannot be of "
                                  "type '%s'" % (what, m.name, m.type.name))
            kinds = m.type.kinds()
            for k in kinds:
                # int and number both take integers: one of them only
                if k in taken or (k == "int" and "number" in taken) or \
                        (k == "number" and "int" in taken):
                    other = taken.get(k) or taken.get(
                        "number" if k == "int" else "int")
                    raise SchemaError(ent.info, "%s: branch '%s' can't be "
                                      "distinguished from '%s'"
                                      % (what, m.name, other))
            for k in kinds:
                taken[k] = m.name

    def check_member_docs(self, ent):
        doc = ent.doc
        if doc is None or getattr(ent, "implicit", False):
            return
        documented = set(doc.args)
        if isinstance(ent, Object):
            expected = [m.name for m in ent.members]
            if ent.base is not None and ent.base.implicit:
                expected = [m.name for m in ent.base.members] + expected
        elif isinstance(ent, Alternate):
            expected = [m.name for m in ent.branches]
        elif isinstance(ent, Enum):
            expected = [v for v, _ in ent.values]
        elif isinstance(ent, (Command, Event)):
            if ent.arg_type is not None and ent.arg_type.implicit:
                expected = [m.name for m in ent.arg_type.members]
            else:
                expected = []
                if ent.boxed or ent.arg_type is not None:
                    expected = list(documented)
        else:
            expected = []
        for name in doc.args:
            if name not in expected:
                raise SchemaError(doc.arg_info[name], "documented member "
                                  "'%s' does not exist in '%s'"
                                  % (name, ent.name))
        if self.pragma["doc-required"]:
            for name in expected:
                if name not in documented:
                    raise SchemaError(doc.info, "member '%s' of '%s' lacks "
                                      "documentation" % (name, ent.name))
        all_features = set(ent.features)
        for m in (ent.members if isinstance(ent, Object) else []):
            all_features |= set(m.features)
        for name in doc.features:
            if name not in all_features:
                raise SchemaError(doc.arg_info[name], "documented feature "
                                  "'%s' does not exist in '%s'"
                                  % (name, ent.name))
        if self.pragma["doc-required"]:
            for name in sorted(all_features):
                if name not in doc.features:
                    raise SchemaError(doc.info, "feature '%s' of '%s' lacks "
                                      "documentation" % (name, ent.name))

    # -- queries --

    def user_modules(self):
        return self.modules

    def in_module(self, module, cls=None):
        return [e for e in self.entities if e.module == module and
                (cls is None or isinstance(e, cls))]

    def all_arrays(self):
        return list(self.arrays.values())


# ---------------------------------------------------------------------------
# C output helpers


def module_c_name(module):
    return re.sub(r"[^A-Za-z0-9_]", "_", module)


def module_suffix(module):
    return "" if module == "main" else "-" + module


class Output:
    def __init__(self, outdir, prefix, kind, module, comment):
        self.fname = "%s%s%s" % (prefix, kind, module_suffix(module)) \
            if module is not None else prefix + kind
        self.outdir = outdir
        self.comment = comment
        self.h = []
        self.c = []

    def write(self):
        guard = re.sub(r"[^A-Za-z0-9]", "_", self.fname).upper() + "_H"
        head = "/* %s\n * Generated by scripts/qapi-gen.py from the schema; " \
            "do not edit. */\n" % self.comment
        files = {
            self.fname + ".h": head + "#ifndef %s\n#define %s\n\n%s\n#endif\n"
            % (guard, guard, "\n".join(self.h)),
            self.fname + ".c": head + "\n".join(self.c) + "\n",
        }
        for name, text in files.items():
            path = os.path.join(self.outdir, name)
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() == text:
                        continue  # keep the timestamp: nothing recompiles
            except OSError:
                pass
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def c_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def features_array(name, features):
    if not features:
        return "NULL", ""
    decl = "static const char *const %s[] = { %s, NULL };\n" % (
        name, ", ".join(c_string(f) for f in features))
    return name, decl


class CGen:
    def __init__(self, schema, outdir, prefix, builtins):
        self.schema = schema
        self.outdir = outdir
        self.prefix = prefix
        self.builtins = builtins

    def header_of(self, kind, module):
        return "%s%s%s.h" % (self.prefix, kind, module_suffix(module))

    def includes(self, kind, module):
        """#include lines for the headers of @kind this module needs."""
        out = ['#include "qapi/qapi-builtin-%s.h"' % kind.split("-")[1]]
        for m in self.schema.includes.get(module, []):
            out.append('#include "%s"' % self.header_of(kind, m))
        return out

    def generate(self):
        if self.builtins:
            self.gen_builtins()
        for module in self.schema.user_modules():
            self.gen_types(module)
            self.gen_visit(module)
            self.gen_commands(module)
            self.gen_events(module)
        self.gen_init_commands()
        self.gen_introspect()

    # -- types --

    def type_decls(self, ents):
        """Definitions of @ents in an order where embedded types come
        first."""
        h = []
        for e in ents:
            if isinstance(e, Enum):
                h += self.enum_decl(e)
        for e in ents:
            if isinstance(e, (Object, Alternate)):
                h.append("typedef struct %s %s;" % (e.c_name(), e.c_name()))
            if isinstance(e, (Object, Alternate, Enum)) and not \
                    getattr(e, "implicit", False):
                lst = e.c_name() + "List"
                h.append("typedef struct %s %s;" % (lst, lst))
        h.append("")
        done = set()
        local = {e.name for e in ents}

        def emit(e):
            if e.name in done:
                return
            done.add(e.name)
            if isinstance(e, Object):
                for dep in ([e.base] if e.base else []) + \
                        [t for _, t, _ in (e.branches or [])]:
                    if dep.name in local:
                        emit(dep)
                h.extend(self.struct_decl(e))
            elif isinstance(e, Alternate):
                h.extend(self.alternate_decl(e))
        for e in ents:
            emit(e)
        for e in ents:
            if isinstance(e, (Object, Alternate, Enum)) and not \
                    getattr(e, "implicit", False):
                h.extend(self.list_decl(e))
        for e in ents:
            if isinstance(e, (Object, Alternate)) and not \
                    getattr(e, "implicit", False):
                h.append("void qapi_free_%s(%s *obj);" % (e.c_name(),
                                                           e.c_name()))
                h.append("G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)"
                         % (e.c_name(), e.c_name()))
            if isinstance(e, (Object, Alternate, Enum)) and not \
                    getattr(e, "implicit", False):
                lst = e.c_name() + "List"
                h.append("void qapi_free_%s(%s *obj);" % (lst, lst))
                h.append("G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)"
                         % (lst, lst))
        return h

    def enum_decl(self, e):
        n = e.c_name()
        h = ["typedef enum %s {" % n]
        for v, _ in e.values:
            h.append("    %s," % e.constant(v))
        h.append("    %s," % e.max_constant())
        h.append("} %s;" % n)
        h.append("extern const QEnumLookup %s_lookup;" % n)
        h.append("#define %s_str(val) qapi_enum_lookup(&%s_lookup, (val))"
                 % (n, n))
        h.append("")
        return h

    def member_fields(self, members):
        h = []
        for m in members:
            if m.needs_has():
                h.append("    bool has_%s;" % m.c_name())
            h.append("    %s%s%s;" % (m.type.c_type(),
                                      "" if m.type.c_type().endswith("*")
                                      else " ", m.c_name()))
        return h

    def struct_decl(self, e):
        h = ["struct %s {" % e.c_name()]
        fields = self.member_fields(e.all_members())
        if e.branches:
            fields.append("    union {")
            for case, typ, _ in e.branches:
                fields.append("        %s %s;" % (typ.c_name(), c_name(case)))
            fields.append("    } u;")
        if not fields:
            fields = ["    char qapi_dummy_for_empty_struct;"]
        h += fields
        h.append("};")
        h.append("")
        return h

    def alternate_decl(self, e):
        h = ["struct %s {" % e.c_name(), "    QapiType type;", "    union {"]
        for m in e.branches:
            if m.type.name != "null":
                h.append("        %s%s%s;" % (
                    m.type.c_type(),
                    "" if m.type.c_type().endswith("*") else " ",
                    m.c_name()))
        h += ["    } u;", "};", ""]
        return h

    def list_decl(self, element):
        lst = element.c_name() + "List"
        ctype = element.c_type()
        return ["struct %s {" % lst, "    struct %s *next;" % lst,
                "    %s%svalue;" % (ctype, "" if ctype.endswith("*")
                                    else " "), "};", ""]

    def free_defs(self, ents):
        c = []
        for e in ents:
            names = []
            if isinstance(e, (Object, Alternate)) and not \
                    getattr(e, "implicit", False):
                names.append(e.c_name())
            if isinstance(e, (Object, Alternate, Enum, Builtin)) and not \
                    getattr(e, "implicit", False):
                names.append(e.c_name() + "List")
            for n in names:
                c += ["void qapi_free_%s(%s *obj)" % (n, n), "{",
                      "    QapiVisitor *v;", "",
                      "    if (!obj) {", "        return;", "    }",
                      "    v = qapi_dealloc_visitor_new();",
                      "    visit_type_%s(v, NULL, &obj, NULL);" % n,
                      "    visit_free(v);", "}", ""]
        return c

    def enum_defs(self, ents):
        c = []
        for e in ents:
            if isinstance(e, Enum):
                n = e.c_name()
                c.append("static const char *const %s_names[] = {" % n)
                for v, _ in e.values:
                    c.append("    [%s] = %s," % (e.constant(v), c_string(v)))
                c += ["};", "const QEnumLookup %s_lookup = {" % n,
                      "    .array = %s_names," % n,
                      "    .size = %s," % e.max_constant(), "};", ""]
        return c

    def gen_types(self, module):
        out = Output(self.outdir, self.prefix, "qapi-types", module,
                     "Schema types of module %s." % module)
        ents = self.schema.in_module(module, (Enum, Object, Alternate))
        out.h += self.includes("qapi-types", module)
        out.h.append("")
        out.h += self.type_decls(ents)
        out.c += ['#include "%s"' % self.header_of("qapi-types", module),
                  '#include "%s"' % self.header_of("qapi-visit", module),
                  '#include "qapi/dealloc-visitor.h"', ""]
        out.c += self.enum_defs(ents)
        out.c += self.free_defs(ents)
        out.write()

    def gen_builtins(self):
        out = Output(self.outdir, "", "qapi-builtin-types", None,
                     "Lists of the built-in types.")
        out.h += ['#include <stdbool.h>', '#include <stdint.h>',
                  '#include <json-glib/json-glib.h>',
                  '#include "qapi/visitor.h"', ""]
        builtins = [b for b in BUILTINS if b.c_type() is not None]
        for b in builtins:
            lst = b.c_name() + "List"
            out.h.append("typedef struct %s %s;" % (lst, lst))
        out.h.append("")
        for b in builtins:
            out.h += self.list_decl(b)
            lst = b.c_name() + "List"
            out.h.append("void qapi_free_%s(%s *obj);" % (lst, lst))
            out.h.append("G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)"
                         % (lst, lst))
            out.h.append("")
        out.c += ['#include "qapi-builtin-types.h"',
                  '#include "qapi-builtin-visit.h"',
                  '#include "qapi/dealloc-visitor.h"', ""]
        out.c += self.free_defs(builtins)
        out.write()

        out = Output(self.outdir, "", "qapi-builtin-visit", None,
                     "Visitors of the lists of built-in types.")
        out.h += ['#include "qapi/visitor.h"',
                  '#include "qapi-builtin-types.h"', ""]
        for b in builtins:
            out.h.append(self.list_visit_proto(b) + ";")
        out.c += ['#include "qapi-builtin-visit.h"', ""]
        for b in builtins:
            out.c += self.list_visit_def(b)
        out.write()

    # -- visitors --

    def visit_call(self, typ, name, ptr, errp="errp"):
        """A C expression visiting *@ptr of @typ as member @name."""
        name = c_string(name) if name is not None else "NULL"
        if typ.name == "null":
            return "visit_type_null(v, %s, %s)" % (name, errp)
        return "%s(v, %s, %s, %s)" % (typ.visit_fn(), name, ptr, errp)

    def members_proto(self, e):
        return "bool visit_type_%s_members(QapiVisitor *v, %s *obj, " \
            "GError **errp)" % (e.c_name(), e.c_name())

    def visit_proto(self, e):
        return "bool visit_type_%s(QapiVisitor *v, const char *name, " \
            "%s%sobj, GError **errp)" % (
                e.c_name(), e.c_type(),
                "*" if e.c_type().endswith("*") else " *")

    def list_visit_proto(self, element):
        lst = element.c_name() + "List"
        return "bool visit_type_%s(QapiVisitor *v, const char *name, " \
            "%s **obj, GError **errp)" % (lst, lst)

    def members_def(self, e):
        c = [self.members_proto(e), "{"]
        if e.base:
            c += ["    if (!visit_type_%s_members(v, (%s *)obj, errp)) {"
                  % (e.base.c_name(), e.base.c_name()),
                  "        return false;", "    }"]
        for m in e.members:
            call = self.visit_call(m.type, m.name, "&obj->" + m.c_name())
            if m.optional:
                if m.needs_has():
                    flag = "&obj->has_%s" % m.c_name()
                    c.append("    if (visit_optional(v, %s, %s)) {"
                             % (c_string(m.name), flag))
                else:
                    c += ["    {",
                          "        bool has = obj->%s != NULL;"
                          % m.c_name(), ""]
                    c.append("        if (visit_optional(v, %s, &has)) {"
                             % c_string(m.name))
                    c += ["            if (!%s) {" % call,
                          "                return false;", "            }",
                          "        }", "    }"]
                    continue
                c += ["        if (!%s) {" % call,
                      "            return false;", "        }", "    }"]
            else:
                c += ["    if (!%s) {" % call, "        return false;",
                      "    }"]
        if e.branches:
            c.append("    switch (obj->%s) {" % e.tag_member.c_name())
            for case, typ, _ in e.branches:
                c += ["    case %s:" % e.tag_member.type.constant(case),
                      "        return visit_type_%s_members(v, &obj->u.%s, "
                      "errp);" % (typ.c_name(), c_name(case))]
            c += ["    default:", "        break;", "    }"]
        c += ["    return true;", "}", ""]
        return c

    def object_visit_def(self, e):
        n = e.c_name()
        return [self.visit_proto(e), "{", "    bool ok = false;", "",
                "    if (!visit_start_struct(v, name, (void **)obj, "
                "sizeof(%s), errp)) {" % n,
                "        return false;", "    }",
                "    if (!*obj) {",
                "        /* Freeing or writing out a NULL pointer. */",
                "        g_assert(!visit_is_input(v));",
                "        ok = true;", "        goto out_obj;", "    }",
                "    if (!visit_type_%s_members(v, *obj, errp)) {" % n,
                "        goto out_obj;", "    }",
                "    ok = visit_check_struct(v, errp);", "out_obj:",
                "    visit_end_struct(v, (void **)obj);",
                "    if (!ok && visit_is_input(v)) {",
                "        qapi_free_%s(*obj);" % n, "        *obj = NULL;",
                "    }", "    return ok;", "}", ""]

    def enum_visit_def(self, e):
        n = e.c_name()
        return [self.visit_proto(e), "{", "    int value = *obj;", "",
                "    if (!visit_type_enum(v, name, &value, &%s_lookup, "
                "errp)) {" % n, "        return false;", "    }",
                "    *obj = (%s)value;" % n, "    return true;", "}", ""]

    def list_visit_def(self, element):
        lst = element.c_name() + "List"
        call = self.visit_call(element, None, "&tail->value")
        return [self.list_visit_proto(element), "{", "    bool ok = false;",
                "    %s *tail;" % lst, "    size_t size = sizeof(**obj);", "",
                "    if (!visit_start_list(v, name, (GenericList **)obj, "
                "size, errp)) {", "        return false;", "    }",
                "    for (tail = *obj; tail; tail = (%s *)visit_next_list("
                "v, (GenericList *)tail, size)) {" % lst,
                "        if (!%s) {" % call, "            goto out_obj;",
                "        }", "    }", "    ok = visit_check_list(v, errp);",
                "out_obj:", "    visit_end_list(v, (void **)obj);",
                "    if (!ok && visit_is_input(v)) {",
                "        qapi_free_%s(*obj);" % lst, "        *obj = NULL;",
                "    }", "    return ok;", "}", ""]

    def alternate_visit_def(self, e):
        n = e.c_name()
        by_kind = {}
        for m in e.branches:
            for k in m.type.kinds():
                by_kind.setdefault(k, m)
        c = [self.visit_proto(e), "{", "    bool ok = false;",
             "    QapiType type;", "",
             "    if (!visit_start_alternate(v, name, (GenericAlternate **)"
             "obj, sizeof(**obj), errp)) {", "        return false;", "    }",
             "    if (!*obj) {", "        g_assert(!visit_is_input(v));",
             "        ok = true;", "        goto out_obj;", "    }",
             "    type = (*obj)->type;"]
        scalars = [m for m in e.branches if m.type.kinds() & {"int",
                                                               "number",
                                                               "bool"}]
        if "string" not in by_kind and len(scalars) == 1:
            qt = {"int": "QAPI_TYPE_INT", "number": "QAPI_TYPE_NUMBER",
                  "bool": "QAPI_TYPE_BOOL"}
            kind = sorted(scalars[0].type.kinds() & set(qt))[0]
            if kind == "int" and "number" in scalars[0].type.kinds():
                kind = "number"
            c += ["    if (type == QAPI_TYPE_STRING && "
                  "visit_scalars_are_strings(v)) {",
                  "        /* keyval: the one scalar branch reads it */",
                  "        type = %s;" % qt[kind], "    }"]
        c.append("    switch (type) {")
        qtypes = [("null", "QAPI_TYPE_NULL"), ("int", "QAPI_TYPE_INT"),
                  ("number", "QAPI_TYPE_NUMBER"),
                  ("string", "QAPI_TYPE_STRING"), ("bool", "QAPI_TYPE_BOOL"),
                  ("object", "QAPI_TYPE_OBJECT"),
                  ("array", "QAPI_TYPE_ARRAY")]
        for kind, qt in qtypes:
            m = by_kind.get(kind)
            if m is None:
                continue
            c.append("    case %s:" % qt)
            # the branch records the kind it stands for
            own = {"int": "QAPI_TYPE_INT", "number": "QAPI_TYPE_NUMBER"}
            if kind == "int" and "number" in m.type.kinds():
                c.append("        (*obj)->type = QAPI_TYPE_NUMBER;")
            else:
                c.append("        (*obj)->type = %s;" % own.get(kind, qt))
            c.append("        ok = %s;" % self.visit_call(
                m.type, None, "&(*obj)->u." + m.c_name())
                .replace("(v, NULL,", "(v, name,"))
            c.append("        break;")
        c += ["    case QAPI_TYPE_NONE:", "        g_assert_not_reached();",
              "    default:",
              "        if (!visit_is_input(v)) {",
              "            /* freeing what an input of the wrong kind left */",
              "            g_assert(visit_is_dealloc(v));",
              "            ok = true;",
              "            break;",
              "        }",
              "        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_TYPE,",
              "                    \"Invalid parameter type for '%%s', "
              "expected: %s\"," % e.name,
              "                    name ? name : \"null\");",
              "    }", "out_obj:", "    visit_end_alternate(v, (void **)obj);",
              "    if (!ok && visit_is_input(v)) {",
              "        qapi_free_%s(*obj);" % n, "        *obj = NULL;",
              "    }", "    return ok;", "}", ""]
        return c

    def gen_visit(self, module):
        out = Output(self.outdir, self.prefix, "qapi-visit", module,
                     "Visitors of module %s." % module)
        ents = self.schema.in_module(module, (Enum, Object, Alternate))
        out.h += ['#include "qapi/visitor.h"',
                  '#include "%s"' % self.header_of("qapi-types", module)]
        out.h += self.includes("qapi-visit", module)
        out.h.append("")
        for e in ents:
            implicit = getattr(e, "implicit", False)
            if isinstance(e, Object):
                out.h.append(self.members_proto(e) + ";")
            if not implicit:
                out.h.append(self.visit_proto(e) + ";")
                out.h.append(self.list_visit_proto(e) + ";")
        out.c += ['#include "%s"' % self.header_of("qapi-visit", module),
                  ""]
        for e in ents:
            implicit = getattr(e, "implicit", False)
            if isinstance(e, Object):
                out.c += self.members_def(e)
                if not implicit:
                    out.c += self.object_visit_def(e)
            elif isinstance(e, Alternate):
                out.c += self.alternate_visit_def(e)
            elif isinstance(e, Enum):
                out.c += self.enum_visit_def(e)
            if not implicit:
                out.c += self.list_visit_def(e)
        out.write()

    # -- commands --

    def params(self, arg_type, boxed):
        if arg_type is None:
            return []
        if boxed:
            return ["%s *arg" % arg_type.c_name()]
        out = []
        for m in arg_type.all_members():
            if m.needs_has():
                out.append("bool has_%s" % m.c_name())
            t = m.type.param_type if isinstance(m.type, Builtin) \
                else m.type.c_type()
            out.append("%s%s%s" % (t, "" if t.endswith("*") else " ",
                                   m.c_name()))
        return out

    def ret_c_type(self, cmd):
        if cmd.ret_type is None:
            return "void"
        return cmd.ret_type.c_type()

    def command_proto(self, cmd):
        t = self.ret_c_type(cmd)
        params = self.params(cmd.arg_type, cmd.boxed) + ["GError **errp"]
        return "%s%sqmp_%s(%s)" % (t, "" if t.endswith("*") else " ",
                                   c_name(cmd.name), ", ".join(params))

    def marshal_proto(self, cmd):
        return "void qmp_marshal_%s(JsonObject *args, JsonNode **ret, " \
            "GError **errp)" % c_name(cmd.name)

    def output_fn(self, typ):
        return "qmp_marshal_output_%s" % typ.c_name() if not \
            isinstance(typ, Array) else "qmp_marshal_output_%s" % \
            typ.c_name()

    def output_def(self, typ):
        t = typ.c_type()
        return ["static void %s(%s%sret_in, JsonNode **ret_out)"
                % (self.output_fn(typ), t, "" if t.endswith("*") else " "),
                "{", "    QapiVisitor *v = qapi_json_output_visitor_new(ret_out);",
                "", "    %s;" % self.visit_call(typ, "unused", "&ret_in",
                                                 "NULL"),
                "    visit_complete(v);", "    visit_free(v);",
                "    v = qapi_dealloc_visitor_new();",
                "    %s;" % self.visit_call(typ, "unused", "&ret_in",
                                            "NULL"),
                "    visit_free(v);", "}", ""]

    def marshal_def(self, cmd):
        arg = cmd.arg_type
        c = [self.marshal_proto(cmd), "{", "    GError *err = NULL;",
             "    bool ok = false;", "    QapiVisitor *v;",
             "    JsonNode *root;"]
        if arg is not None:
            c.append("    %s arg = { 0 };" % arg.c_name())
        if cmd.ret_type is not None:
            t = cmd.ret_type.c_type()
            c.append("    %s%sretval;" % (t, "" if t.endswith("*") else " "))
        c += ["", "    *ret = NULL;",
              "    root = json_node_alloc();",
              "    if (args) {", "        json_node_init_object(root, args);",
              "    } else {",
              "        json_node_take_object(json_node_init_object(root, "
              "NULL), json_object_new());", "    }",
              "    v = qapi_json_input_visitor_new(root);",
              "    json_node_unref(root);",
              "    if (!visit_start_struct(v, NULL, NULL, 0, errp)) {",
              "        goto out;", "    }"]
        if arg is not None:
            c += ["    if (visit_type_%s_members(v, &arg, errp)) {"
                  % arg.c_name(),
                  "        ok = visit_check_struct(v, errp);", "    }"]
        else:
            c.append("    ok = visit_check_struct(v, errp);")
        c += ["    visit_end_struct(v, NULL);", "    if (!ok) {",
              "        goto out;", "    }"]
        if cmd.boxed:
            call_args = ["&arg"]
        else:
            call_args = []
            for m in (arg.all_members() if arg else []):
                if m.needs_has():
                    call_args.append("arg.has_" + m.c_name())
                call_args.append("arg." + m.c_name())
        call_args.append("&err")
        call = "qmp_%s(%s)" % (c_name(cmd.name), ", ".join(call_args))
        if cmd.ret_type is not None:
            c.append("    retval = %s;" % call)
        else:
            c.append("    %s;" % call)
        c += ["    if (err) {", "        g_propagate_error(errp, err);",
              "        goto out;", "    }"]
        if cmd.ret_type is not None:
            c.append("    %s(retval, ret);" % self.output_fn(cmd.ret_type))
        else:
            c.append("    *ret = json_node_init_object(json_node_alloc(), "
                     "NULL);")
            c.append("    json_node_take_object(*ret, json_object_new());")
        c += ["out:", "    visit_free(v);"]
        if arg is not None:
            c += ["    v = qapi_dealloc_visitor_new();",
                  "    visit_start_struct(v, NULL, NULL, 0, NULL);",
                  "    visit_type_%s_members(v, &arg, NULL);" % arg.c_name(),
                  "    visit_end_struct(v, NULL);", "    visit_free(v);"]
        c += ["}", ""]
        return c

    def gen_commands(self, module):
        out = Output(self.outdir, self.prefix, "qapi-commands", module,
                     "Command marshallers of module %s." % module)
        cmds = self.schema.in_module(module, Command)
        out.h += ['#include <json-glib/json-glib.h>',
                  '#include "qapi/qmp-registry.h"',
                  '#include "%s"' % self.header_of("qapi-types", module), ""]
        for cmd in cmds:
            out.h.append(self.command_proto(cmd) + ";")
            out.h.append(self.marshal_proto(cmd) + ";")
        init = "void qmp_init_marshal_%s(QmpCommandList *cmds)" % \
            module_c_name(module)
        out.h.append(init + ";")
        out.c += ['#include "%s"' % self.header_of("qapi-commands", module),
                  '#include "%s"' % self.header_of("qapi-visit", module),
                  '#include "qapi/dealloc-visitor.h"',
                  '#include "qapi/json-visitor.h"', ""]
        done = set()
        for cmd in cmds:
            if cmd.ret_type is not None and cmd.ret_type.name not in done:
                done.add(cmd.ret_type.name)
                out.c += self.output_def(cmd.ret_type)
            out.c += self.marshal_def(cmd)
        reg = []
        for cmd in cmds:
            opts = []
            if cmd.allow_oob:
                opts.append("QMP_CMD_ALLOW_OOB")
            if cmd.allow_preconfig:
                opts.append("QMP_CMD_ALLOW_PRECONFIG")
            fname, decl = features_array("qmp_%s_features" % c_name(cmd.name),
                                         cmd.features)
            if decl:
                out.c.append(decl)
            reg.append("    qmp_register_command(cmds, %s, qmp_marshal_%s, "
                       "%s, %s);" % (c_string(cmd.name), c_name(cmd.name),
                                     " | ".join(opts) or "QMP_CMD_NO_OPTIONS",
                                     fname))
        out.c += [init, "{"] + (reg or ["    (void)cmds;"]) + ["}", ""]
        out.write()

    def gen_init_commands(self):
        out = Output(self.outdir, self.prefix, "qapi-init-commands", None,
                     "Registration of every command of the schema.")
        out.h += ['#include "qapi/qmp-registry.h"', "",
                  "void qmp_init_marshal(QmpCommandList *cmds);"]
        out.c += ['#include "%s"' % (self.prefix + "qapi-init-commands.h")]
        for m in self.schema.user_modules():
            out.c.append('#include "%s"' % self.header_of("qapi-commands", m))
        out.c += ["", "void qmp_init_marshal(QmpCommandList *cmds)", "{"]
        for m in self.schema.user_modules():
            out.c.append("    qmp_init_marshal_%s(cmds);" % module_c_name(m))
        out.c += ["}", ""]
        out.write()

    # -- events --

    def gen_events(self, module):
        out = Output(self.outdir, self.prefix, "qapi-events", module,
                     "Event senders of module %s." % module)
        events = self.schema.in_module(module, Event)
        out.h += ['#include "%s"' % self.header_of("qapi-types", module), ""]
        out.c += ['#include "%s"' % self.header_of("qapi-events", module),
                  '#include "%s"' % self.header_of("qapi-visit", module),
                  '#include "qapi/event.h"',
                  '#include "qapi/json-visitor.h"', ""]
        for ev in events:
            params = self.params(ev.arg_type, ev.boxed) or ["void"]
            proto = "void qapi_event_send_%s(%s)" % (c_name(ev.name).lower(),
                                                     ", ".join(params))
            out.h.append(proto + ";")
            c = [proto, "{"]
            if ev.arg_type is None:
                c.append("    qapi_event_emit(%s, NULL);" % c_string(ev.name))
            else:
                arg = ev.arg_type
                c += ["    JsonNode *data = NULL;", "    QapiVisitor *v;"]
                if ev.boxed:
                    c.append("    %s *param = arg;" % arg.c_name())
                else:
                    c.append("    %s param_ = { 0 };" % arg.c_name())
                    c.append("    %s *param = &param_;" % arg.c_name())
                c.append("")
                if not ev.boxed:
                    for m in arg.all_members():
                        if m.needs_has():
                            c.append("    param_.has_%s = has_%s;"
                                     % (m.c_name(), m.c_name()))
                        cast = "(char *)" if m.type.name == "str" else ""
                        c.append("    param_.%s = %s%s;" % (m.c_name(), cast,
                                                           m.c_name()))
                c += ["    v = qapi_json_output_visitor_new(&data);",
                      "    visit_start_struct(v, NULL, NULL, 0, NULL);",
                      "    visit_type_%s_members(v, param, NULL);"
                      % arg.c_name(),
                      "    visit_end_struct(v, NULL);",
                      "    visit_complete(v);", "    visit_free(v);",
                      "    qapi_event_emit(%s, json_node_get_object(data));"
                      % c_string(ev.name),
                      "    json_node_unref(data);"]
            c += ["}", ""]
            out.c += c
        out.write()

    # -- introspection --

    def gen_introspect(self):
        data = Introspection(self.schema, masked=not ARGS.unmask).entries()
        text = json.dumps(data, indent=None, separators=(", ", ": "))
        out = Output(self.outdir, self.prefix, "qapi-introspect", None,
                     "The schema as query-qmp-schema reports it.")
        out.h += ["/* A JSON array of SchemaInfo objects. */",
                  "extern const char %sqapi_introspect_json[];"
                  % c_name(self.prefix)]
        out.c += ['#include "%s"' % (self.prefix + "qapi-introspect.h"), "",
                  "const char %sqapi_introspect_json[] ="
                  % c_name(self.prefix)]
        chunks = [text[i:i + 70] for i in range(0, len(text), 70)] or [""]
        for i, chunk in enumerate(chunks):
            out.c.append("    %s%s" % (c_string(chunk),
                                       ";" if i == len(chunks) - 1 else ""))
        out.write()


class Introspection:
    """The SchemaInfo list: commands and events in schema order, then every
    type they reach, in order of first use.  Type names other than the
    built-in ones are replaced by numbers, as QEMU does, so that clients
    depend on structure rather than on names (unless --unmask)."""

    def __init__(self, schema, masked):
        self.schema = schema
        self.masked = masked
        self.names = {}
        self.queue = []
        self.empty = Object("q_empty", None, None, [], None, [],
                            implicit=True)

    def name(self, typ):
        if isinstance(typ, Builtin):
            return typ.intro_name()
        if isinstance(typ, Array):
            return "[%s]" % self.name(typ.element)
        key = typ.name
        if key not in self.names:
            self.names[key] = str(len(self.names)) if self.masked else key
            self.queue.append(typ)
        return self.names[key]

    def use(self, typ):
        if isinstance(typ, Builtin):
            typ = self.schema.types[typ.intro_name()]
            if typ.name not in self.names:
                self.names[typ.name] = typ.name
                self.queue.append(typ)
            return typ.name
        if isinstance(typ, Array):
            self.use(typ.element)
            key = "[%s]" % self.name(typ.element)
            if key not in self.names:
                self.names[key] = key
                self.queue.append(typ)
            return key
        return self.name(typ)

    def entries(self):
        out = []
        for ent in self.schema.entities:
            if isinstance(ent, Command):
                e = {"name": ent.name, "meta-type": "command",
                     "arg-type": self.use(ent.arg_type or self.empty),
                     "ret-type": self.use(ent.ret_type or self.empty)}
                if ent.allow_oob:
                    e["allow-oob"] = True
            elif isinstance(ent, Event):
                e = {"name": ent.name, "meta-type": "event",
                     "arg-type": self.use(ent.arg_type or self.empty)}
            else:
                continue
            if ent.features:
                e["features"] = list(ent.features)
            out.append(e)
        i = 0
        while i < len(self.queue):
            out.append(self.type_entry(self.queue[i]))
            i += 1
        return out

    def type_entry(self, typ):
        name = self.names[typ.name] if not isinstance(typ, Array) else \
            "[%s]" % self.name(typ.element)
        if isinstance(typ, Builtin):
            e = {"name": name, "meta-type": "builtin",
                 "json-type": typ.json_type}
        elif isinstance(typ, Enum):
            e = {"name": name, "meta-type": "enum",
                 "members": [dict({"name": v},
                                  **({"features": f} if f else {}))
                             for v, f in typ.values],
                 "values": [v for v, _ in typ.values]}
        elif isinstance(typ, Array):
            e = {"name": name, "meta-type": "array",
                 "element-type": self.use(typ.element)}
        elif isinstance(typ, Alternate):
            e = {"name": name, "meta-type": "alternate",
                 "members": [{"type": self.use(m.type)}
                             for m in typ.branches]}
        else:
            members = []
            for m in typ.all_members():
                me = {"name": m.name, "type": self.use(m.type)}
                if m.optional:
                    me["default"] = None
                if m.features:
                    me["features"] = list(m.features)
                members.append(me)
            e = {"name": name, "meta-type": "object", "members": members}
            if typ.branches:
                e["tag"] = typ.tag
                e["variants"] = [{"case": case, "type": self.use(t)}
                                 for case, t, _ in typ.branches]
        if getattr(typ, "features", None):
            e["features"] = list(typ.features)
        return e


# ---------------------------------------------------------------------------
# The command reference


class DocGen:
    def __init__(self, schema):
        self.schema = schema

    @staticmethod
    def para(lines):
        text = "\n".join(lines).strip("\n")
        return re.sub(r"@([A-Za-z0-9_-]+)", r"`\1`", text)

    def type_text(self, typ):
        if isinstance(typ, Array):
            return "[%s]" % self.type_text(typ.element)
        return typ.name

    def member_lines(self, doc, members, heading):
        out = []
        rows = [m for m in members]
        if not rows:
            return out
        out += ["", heading, ""]
        for m in rows:
            text = self.para(doc.args.get(m.name, [])) if doc else ""
            text = " ".join(text.split("\n"))
            opt = ", optional" if m.optional else ""
            out.append("- `%s` (%s%s)%s" % (m.name, self.type_text(m.type),
                                             opt, (": " + text) if text
                                             else ""))
        return out

    def entry(self, ent):
        doc = ent.doc
        kind = ent.kind if isinstance(ent, Object) else ent.meta
        out = ["", "### %s (%s)" % (ent.name, kind), ""]
        body = self.para(doc.body) if doc else ""
        if body:
            out.append(body)
        if isinstance(ent, Enum):
            out += ["", "Values:", ""]
            for v, _ in ent.values:
                text = " ".join(self.para(doc.args.get(v, [])).split("\n")) \
                    if doc else ""
                out.append("- `%s`%s" % (v, (": " + text) if text else ""))
        elif isinstance(ent, Object):
            members = list(ent.members)
            if ent.base is not None and ent.base.implicit:
                members = ent.base.members + members
            elif ent.base is not None:
                out += ["", "Also the members of %s." % ent.base.name]
            out += self.member_lines(doc, members, "Members:")
            if ent.branches:
                out += ["", "Depending on `%s`:" % ent.tag, ""]
                for case, typ, _ in ent.branches:
                    out.append("- `%s`: the members of %s" % (case, typ.name))
        elif isinstance(ent, Alternate):
            out += ["", "One of:", ""]
            for m in ent.branches:
                text = " ".join(self.para(doc.args.get(m.name, []))
                                .split("\n")) if doc else ""
                out.append("- %s%s" % (self.type_text(m.type),
                                       (": " + text) if text else ""))
        elif isinstance(ent, (Command, Event)):
            arg = ent.arg_type
            if arg is not None and arg.implicit:
                out += self.member_lines(doc, arg.members, "Arguments:")
            elif arg is not None:
                out += ["", "Arguments: the members of %s." % arg.name]
            if isinstance(ent, Command):
                ret = "nothing (`{}`)" if ent.ret_type is None else \
                    "%s" % self.type_text(ent.ret_type)
                said = [" ".join(self.para(lines).split("\n"))
                        for tag, lines in (doc.sections if doc else [])
                        if tag == "Returns"]
                if said and ent.ret_type is not None:
                    ret += ": " + said[0]
                out += ["", "Returns: %s" % ret]
        if doc and doc.features:
            out += ["", "Features:", ""]
            for f, lines in doc.features.items():
                out.append("- `%s`: %s" % (f, " ".join(
                    self.para(lines).split("\n"))))
        for tag, lines in (doc.sections if doc else []):
            if tag in ("Example", "Examples"):
                out += ["", "Example:", "", "```"]
                out += [ln.rstrip() for ln in textwrap.dedent(
                    "\n".join(lines)).strip("\n").split("\n")]
                out.append("```")
            elif tag == "Returns":
                continue  # merged into the line above
            else:
                out += ["", "%s: %s" % (tag, " ".join(self.para(lines)
                                                      .split("\n")))]
        return out

    def generate(self, path):
        out = ["# QMP command reference", "",
               "<!-- Generated by scripts/qapi-gen.py from qapi/*.json; do "
               "not edit.  After", "changing the schema, run", "",
               "    scripts/qapi-gen.py --doc-only docs/qmp-reference.md "
               "qapi/qapi-schema.json", "",
               "(the test qapi-doc-current checks that this copy is "
               "current). -->"]
        for module in self.schema.user_modules():
            ents = [e for e in self.schema.in_module(module)
                    if not getattr(e, "implicit", False)]
            docs = self.schema.module_docs.get(module, [])
            if not ents and not docs:
                continue
            title = None
            intro = []
            for d in docs:
                if d.heading and title is None:
                    title = d.heading[1]
                    intro += d.body
                else:
                    intro += d.body
            out += ["", "## %s" % (title or module)]
            if self.para(intro):
                out += ["", self.para(intro)]
            for ent in ents:
                out += self.entry(ent)
        text = "\n".join(out) + "\n"
        text = re.sub(r"\n{3,}", "\n\n", text)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


# ---------------------------------------------------------------------------

ARGS = None


def main(argv):
    global ARGS
    ap = argparse.ArgumentParser(description="Generate C and docs from a "
                                 "QAPI schema.")
    ap.add_argument("-o", "--output-dir", default=".")
    ap.add_argument("-p", "--prefix", default="")
    ap.add_argument("--builtins", action="store_true",
                    help="also write the lists of the built-in types")
    ap.add_argument("--doc", metavar="FILE",
                    help="write the command reference to FILE")
    ap.add_argument("--unmask", action="store_true",
                    help="keep type names in the introspection data")
    ap.add_argument("--check-only", action="store_true",
                    help="check the schema, write nothing")
    ap.add_argument("--doc-only", metavar="FILE",
                    help="write the command reference to FILE, and no C")
    ap.add_argument("schema")
    ARGS = ap.parse_args(argv[1:])
    try:
        schema = Schema(ARGS.schema)
    except SchemaError as e:
        print(str(e), file=sys.stderr)
        return 1
    if ARGS.check_only:
        return 0
    if ARGS.doc_only:
        DocGen(schema).generate(ARGS.doc_only)
        return 0
    os.makedirs(ARGS.output_dir, exist_ok=True)
    CGen(schema, ARGS.output_dir, ARGS.prefix, ARGS.builtins).generate()
    if ARGS.doc:
        DocGen(schema).generate(ARGS.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
