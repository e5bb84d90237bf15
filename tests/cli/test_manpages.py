"""The man pages in man/: they render without a groff warning, sockit(1) documents every
option that `sockit COMMAND --help` lists, and the libsockit(3) page(s) cover every
public function declared in include/sockit.h and include/sockit/*.h, with the
prototype the header declares.

The repository root is found from this file (tests/cli/ is two levels below it), or
from SOCKIT_SEEDS (tests/seeds). Rendering needs groff (Debian: groff-base); without it
the whole file is skipped, visibly."""
import glob
import os
import re
import shutil
import subprocess
import unittest

import sktest
from sktest import SOCKIT, run


def _root():
    seeds = os.environ.get("SOCKIT_SEEDS")
    if seeds:
        return os.path.normpath(os.path.join(seeds, "..", ".."))
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", ".."))


ROOT = _root()
MAN = os.path.join(ROOT, "man")
PAGES = sorted(glob.glob(os.path.join(MAN, "*.[1-9]")))
SOCKIT_1 = os.path.join(MAN, "sockit.1")
LIB_PAGES = sorted(glob.glob(os.path.join(MAN, "*.3")))
HEADERS = sorted(glob.glob(os.path.join(ROOT, "include", "sockit", "*.h"))) + [
    os.path.join(ROOT, "include", "sockit.h")]

if not shutil.which("groff"):
    sktest.skip_file("groff is not installed (Debian: apt-get install groff-base)")


# ---- helpers --------------------------------------------------------------------------

def groff(page, device="utf8"):
    """Render a page as the acceptance check does; returns (stdout text, stderr text)."""
    p = subprocess.run(["groff", "-ww", "-man", "-T" + device, page],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def rendered_plain(page):
    """The page as a reader sees it, with overstrikes removed and every dash as '-'."""
    p = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", page], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=60,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    text = p.stdout.decode("utf-8", "replace")
    text = re.sub(".\b", "", text)
    for dash in "\u2010\u2011\u2012\u2013\u2212":
        text = text.replace(dash, "-")
    # Words hyphenated across lines ("--no-half-\nclose") are joined back.
    return re.sub(r"-\n\s+", "-", text)


def unescape(src):
    """groff source to plain text: \\- to '-', font and spacing escapes dropped."""
    src = re.sub(r"\\f(?:\[[^\]]*\]|\(..|.)", "", src)
    src = src.replace("\\-", "-").replace("\\e", "\\")
    src = re.sub(r"\\[c&|^ ]", lambda m: " " if m.group(0) == "\\ " else "", src)
    src = re.sub(r"\\\((aq|dq|lq|rq)", lambda m: {"aq": "'", "dq": '"', "lq": '"',
                                                  "rq": '"'}[m.group(1)], src)
    return src


def macro_args(line):
    """The text a macro line shows: the macro name dropped, quotes removed."""
    if not line.startswith((".", "'")):
        return line
    parts = line.split(None, 1)
    if len(parts) < 2:
        return ""
    return " ".join(a.strip('"') for a in re.findall(r'"[^"]*"|\S+', parts[1]))


def tp_tags(lines):
    """The tag line of every .TP paragraph (the line after .TP), as plain text."""
    return [unescape(macro_args(lines[i + 1])) for i, l in enumerate(lines[:-1])
            if l.startswith(".TP")]


def sections(lines, macro):
    """{title: [lines]} for every .SH or .SS heading, up to the next heading of either
    kind (macro is ".SH" or ".SS")."""
    out, cur = {}, None
    for line in lines:
        if line.startswith((".SH", ".SS")):
            cur = None
            if line.startswith(macro):
                cur = unescape(macro_args(line))
                out[cur] = []
            continue
        if cur is not None:
            out[cur].append(line)
    return out


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def help_text(*args):
    r = run([SOCKIT] + list(args) + ["--help"])
    assert r.returncode == 0, "sockit %s --help exited %d" % (" ".join(args), r.returncode)
    return r.stdout.decode()


def commands():
    """The subcommands `sockit --help` lists under "Commands:"."""
    out, inside = [], False
    for line in help_text().splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s{2,}\S", line)
            if not m:
                break
            out.append(m.group(1))
    return out


# An option line of --help: "  -x, --long ARG", "  -x ARG" or "      --long ARG", indented
# by at most 6 spaces (the wrapped description lines under an option are indented further,
# and may start with an option they mention: "           -s bytes in flight").
_OPT_LINE = re.compile(r"^ {1,6}(-[A-Za-z0-9])(?:,\s+(--[a-z][a-z0-9-]*))?(?=\s|$)"
                       r"|^ {1,6}(--[a-z][a-z0-9-]*)(?=\s|$)")


def help_options(cmd):
    """Every option `sockit CMD --help` lists, short and long forms, in order."""
    opts = []
    for line in help_text(cmd).splitlines():
        m = _OPT_LINE.match(line)
        if m:
            opts += [o for o in m.groups() if o]
    return opts


def strip_c(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def declarations(text):
    """Top-level declarations of C text (comments and preprocessor lines already removed
    or not): [(name, normalized declaration)] for functions, [name] for extern objects."""
    text = strip_c(text)
    text = re.sub(r"#ifdef __cplusplus.*?#endif", " ", text, flags=re.S)
    text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    while True:  # function bodies (static inline) and struct bodies
        t2 = re.sub(r"\{[^{}]*\}", ";", text)
        if t2 == text:
            break
        text = t2
    funcs, objs = [], []
    for st in text.split(";"):
        st = " ".join(st.split())
        st = re.sub(r"^SK_EXPORT\s+", "", st)  # the visibility mark (sockit/export.h)
        if not st or st.startswith("typedef"):
            continue
        m = re.match(r"^(?:extern\s+)?(?:static\s+inline\s+)?[\w\s*]*?\b(sk_\w+)\s*\(", st)
        if m:
            decl = re.sub(r"^(?:extern\s+)?(?:static\s+inline\s+)", "", st)
            decl = re.sub(r"\s*([(),*\[\]])\s*", r"\1", decl)
            funcs.append((m.group(1), decl))
            continue
        m = re.match(r"^extern\s+[\w\s*]*?\b(sk_\w+)((?:\s*,\s*sk_\w+)*)$", st)
        if m:
            objs.append(m.group(1))
            objs += re.findall(r"sk_\w+", m.group(2))
    return funcs, objs


def public_api():
    funcs, objs = [], []
    for h in HEADERS:
        with open(h) as f:
            fs, os_ = declarations(f.read())
        funcs += fs
        objs += os_
    return funcs, objs


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- the tests ------------------------------------------------------------------------

class Render(unittest.TestCase):
    def test_pages_exist(self):
        self.assertIn(SOCKIT_1, PAGES)
        self.assertTrue(LIB_PAGES, "no libsockit page (man/*.3)")

    def test_groff_has_no_warnings(self):
        for page in PAGES:
            with self.subTest(page=os.path.basename(page)):
                out, err = groff(page)
                self.assertEqual(err, "", "groff -ww -man -Tutf8 %s warns:\n%s" % (page, err))
                self.assertGreater(len(out), 1000)

    def test_source_hygiene(self):
        for page in PAGES:
            name = os.path.basename(page)
            src = read(page)
            self.assertTrue(src.startswith(".TH "), name + ": must start with .TH")
            for n, line in enumerate(src.splitlines(), 1):
                self.assertEqual(line, line.rstrip(), "%s:%d: trailing whitespace" % (name, n))
                self.assertFalse(line.startswith("'") and not line.startswith("'\\\""),
                                 "%s:%d: a line starting with ' is a control line" % (name, n))

    def test_th_lines(self):
        self.assertTrue(read(SOCKIT_1).startswith(
            '.TH SOCKIT 1 2026-11-21 "sockit 0.1.0" "User Commands"\n'))


class SockitPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = read(SOCKIT_1)
        cls.lines = cls.src.splitlines()
        cls.plain = unescape(cls.src)
        cls.rendered = rendered_plain(SOCKIT_1)
        cls.subsections = sections(cls.lines, ".SS")
        cls.cmds = commands()

    def section_of(self, cmd):
        for title, body in self.subsections.items():
            if title.split()[:2] == ["sockit", cmd]:
                return body
        self.fail("sockit.1 has no '.SS sockit %s ...' subsection" % cmd)

    def test_help_lists_commands(self):
        self.assertGreaterEqual(len(self.cmds), 8, self.cmds)
        for c in ("serve", "connect", "listen", "get", "probe", "bench", "resolve",
                  "hostname"):
            self.assertIn(c, self.cmds)

    def test_every_command_has_a_section(self):
        for cmd in self.cmds:
            with self.subTest(cmd=cmd):
                self.section_of(cmd)

    def test_every_option_is_documented(self):
        total = 0
        for cmd in self.cmds:
            opts = help_options(cmd)
            total += len(opts)
            body = self.section_of(cmd)
            tags = " ".join(tp_tags(body))
            for opt in opts:
                with self.subTest(cmd=cmd, option=opt):
                    self.assertTrue(has_word(self.rendered, opt),
                                    "%s (sockit %s) not in the rendered sockit.1"
                                    % (opt, cmd))
                    if opt in ("-h", "--help"):  # documented once, for every command
                        self.assertTrue(has_word(self.plain, opt))
                        continue
                    self.assertTrue(has_word(tags, opt),
                                    "%s (sockit %s --help) has no .TP entry in the "
                                    "'sockit %s' subsection of sockit.1" % (opt, cmd, cmd))
        # The extractor must keep finding options: serve alone has 20.
        self.assertGreater(total, 50, "too few options found in --help: is the parse broken?")

    def test_extractor_sees_known_options(self):
        self.assertIn("--drain-timeout", help_options("serve"))
        self.assertIn("-l", help_options("serve"))
        self.assertIn("--listen", help_options("serve"))
        self.assertIn("-4", help_options("resolve"))
        self.assertEqual(help_options("hostname"), [])

    def test_required_sections(self):
        heads = sections(self.lines, ".SH")
        for h in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ADDRESSES", "EXAMPLES",
                  "EXIT STATUS", "SIGNALS", "NOTES FOR NC, NCAT AND SOCAT USERS",
                  "SEE ALSO"):
            self.assertIn(h, heads)
        for ref in ("libsockit (3)", "nc (1)", "socat (1)", "ncat (1)"):
            self.assertIn(ref.replace(" ", ""), unescape(" ".join(
                macro_args(l) for l in heads["SEE ALSO"])).replace(" ", ""))

    def test_exit_status_per_command(self):
        tags = tp_tags(sections(self.lines, ".SH")["EXIT STATUS"])
        for cmd in self.cmds:
            self.assertIn(cmd, tags, "EXIT STATUS has no entry for " + cmd)

    def test_addresses(self):
        body = unescape("\n".join(sections(self.lines, ".SH")["ADDRESSES"]))
        for form in ("PORT", "HOST:PORT", "[IPV6]:PORT", ":PORT", "unix:/PATH", "unix:@NAME"):
            self.assertIn(form, body.replace(" ", ""))


class LibsockitPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.funcs, cls.objs = public_api()
        cls.src = "\n".join(read(p) for p in LIB_PAGES)
        cls.lines = cls.src.splitlines()
        cls.tags = " ".join(tp_tags(cls.lines))
        blocks = re.findall(r"^\.EX\n(.*?)^\.EE", cls.src, flags=re.S | re.M)
        cls.page_funcs, cls.page_objs = declarations(unescape("\n".join(blocks)))

    def test_headers_parse(self):
        names = [n for n, _ in self.funcs]
        self.assertGreater(len(names), 100, "too few functions found: is the parse broken?")
        for n in ("sk_strerror", "sk_version", "sk_create_connection", "sk_buf_len",
                  "sk_loop_now", "sk_session_set_abort", "sk_getpeername"):
            self.assertIn(n, names)
        self.assertIn("sk_service_chat", self.objs)

    def test_every_function_is_described(self):
        for name, _ in self.funcs:
            with self.subTest(function=name):
                self.assertTrue(has_word(self.tags, name),
                                "%s has no .TP entry in the libsockit page(s)" % name)

    def test_every_function_has_its_prototype(self):
        page = dict(self.page_funcs)
        for name, decl in self.funcs:
            with self.subTest(function=name):
                self.assertTrue(name in page, "%s: no prototype in a synopsis (.EX) block" % name)
                self.assertEqual(page[name], decl,
                                 "%s: the page's prototype differs from the header's" % name)

    def test_every_object_is_described(self):
        for name in self.objs:
            with self.subTest(object=name):
                self.assertTrue(has_word(self.tags, name), name)
                self.assertTrue(name in self.page_objs, name + ": not in an .EX block")

    def test_error_codes(self):
        with open(os.path.join(ROOT, "include", "sockit", "error.h")) as f:
            codes = re.findall(r"\b(SK_E[A-Z]+)\s*=", f.read())
        self.assertGreaterEqual(len(codes), 7)
        errors = " ".join(tp_tags(sections(self.lines, ".SH")["ERRORS"]))
        for code in codes:
            self.assertTrue(has_word(errors, code), code + " not listed under ERRORS")

    def test_required_sections(self):
        heads = sections(self.lines, ".SH")
        for h in ("NAME", "SYNOPSIS", "DESCRIPTION", "RETURN VALUE", "ERRORS", "EXAMPLES",
                  "SEE ALSO"):
            self.assertIn(h, heads)

    def test_rendered_mentions_every_function(self):
        text = "\n".join(rendered_plain(p) for p in LIB_PAGES)
        for name, _ in self.funcs:
            with self.subTest(function=name):
                self.assertTrue(has_word(text, name), name)


if __name__ == "__main__":
    sktest.main()
