//! The built-in rules: one entry per detection, grouped by attack family
//! (numbered like the OWASP Core Rule Set's families so reports line up),
//! each enabled from a paranoia level on. Patterns are ours; they look at
//! values after the transformations named in `chain`.

use crate::inspect::Target;
use crate::transform::Transform::{self, *};
use crate::{shell, sqli};

/// How bad a match is; its score is added to the request's anomaly score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Notice,
}

impl Severity {
    pub fn score(self) -> u32 {
        match self {
            Severity::Critical => 5,
            Severity::Error => 4,
            Severity::Warning => 3,
            Severity::Notice => 2,
        }
    }
}

/// A set of targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets(u16);

impl Targets {
    pub const ALL: Targets = Targets(u16::MAX);

    pub const fn union(self, other: Targets) -> Targets {
        Targets(self.0 | other.0)
    }

    pub const fn of(t: Target) -> Targets {
        Targets(1 << t as u16)
    }

    pub const fn with(self, t: Target) -> Targets {
        Targets(self.0 | 1 << t as u16)
    }

    pub fn contains(self, t: Target) -> bool {
        self.0 & (1 << t as u16) != 0
    }
}

/// Argument names and values, cookie names and values: what the
/// application reads.
const ARGS: Targets = Targets::of(Target::Arg).with(Target::ArgName).with(Target::Cookie).with(Target::CookieName);
const ARGS_HEADERS: Targets = ARGS.with(Target::Header);
const ALL_TEXT: Targets = ARGS_HEADERS.with(Target::Path).with(Target::FileName);

/// Decoded the ways a browser or server would decode it, in lowercase.
pub const NORM: &[Transform] =
    &[UrlDecode, JsDecode, HtmlEntityDecode, UrlDecode, RemoveNulls, FoldWidth, Lowercase, CompressWhitespace];
/// These two extend NORM, so they start from its result.
const NORM_NO_COMMENTS: &[Transform] = &[
    UrlDecode,
    JsDecode,
    HtmlEntityDecode,
    UrlDecode,
    RemoveNulls,
    FoldWidth,
    Lowercase,
    CompressWhitespace,
    RemoveComments,
    CompressWhitespace,
];
const NORM_NO_SPACE: &[Transform] = &[
    UrlDecode,
    JsDecode,
    HtmlEntityDecode,
    UrlDecode,
    RemoveNulls,
    FoldWidth,
    Lowercase,
    CompressWhitespace,
    RemoveComments,
    RemoveWhitespace,
];
const PATH: &[Transform] = &[UrlDecode, RemoveNulls, Lowercase, NormalizePath];
const RAW: &[Transform] = &[];
const URL_DECODED: &[Transform] = &[UrlDecode];

/// How a rule decides.
pub enum Matcher {
    Regex(&'static str),
    /// Substrings, case-insensitive.
    Phrases(&'static [&'static str]),
    Detect(fn(&str) -> bool),
}

/// A built-in rule.
pub struct BuiltIn {
    pub id: u32,
    pub paranoia: u8,
    pub severity: Severity,
    pub message: &'static str,
    pub targets: Targets,
    /// Only this header (lowercase), when the target is headers.
    pub header: Option<&'static str>,
    pub chain: &'static [Transform],
    pub matcher: Matcher,
    /// Whether the rule can match a plain token (letters, digits, `_`,
    /// `-`, or a number): most attacks need punctuation or spaces, so
    /// the others skip such values.
    pub plain: bool,
}

const fn rule(
    id: u32,
    paranoia: u8,
    message: &'static str,
    targets: Targets,
    chain: &'static [Transform],
    matcher: Matcher,
) -> BuiltIn {
    BuiltIn { id, paranoia, severity: Severity::Critical, message, targets, header: None, chain, matcher, plain: false }
}

const SCANNERS: &[&str] = &[
    "acunetix",
    "arachni",
    "bsqlbf",
    "burpcollaborator",
    "dirbuster",
    "feroxbuster",
    "ffuf",
    "fimap",
    "gobuster",
    "grabber",
    "havij",
    "hydra",
    "jaeles",
    "masscan",
    "morfeus",
    "nessus",
    "netsparker",
    "nikto",
    "nmap scripting",
    "nmap nse",
    "nuclei",
    "openvas",
    "paros",
    "sqlmap",
    "sqlninja",
    "w3af",
    "webinspect",
    "wfuzz",
    "whatweb",
    "wpscan",
    "xsser",
    "zgrab",
    "zmeu",
    "(hydra)",
    "commix",
    "brutus",
    "absinthe",
    "appscan",
    "qualys was",
    "wapiti",
    "skipfish",
];

const JAVA_CLASSES: &[&str] = &[
    "java.lang.",
    "java.io.",
    "java.net.",
    "java.nio.",
    "java.util.",
    "java.beans.",
    "java.rmi.",
    "java.security.",
    "java.runtime",
    "java.processbuilder",
    "javax.script",
    "javax.naming",
    "javax.management",
    "javax.el.",
    "com.sun.",
    "com.opensymphony.xwork2",
    "org.apache.commons",
    "org.apache.struts",
    "org.apache.xalan",
    "org.apache.tomcat",
    "org.apache.catalina",
    "org.springframework.",
    "org.omg.corba",
    "org.codehaus.groovy",
    "groovy.lang.",
    "sun.misc.",
    "sun.reflect.",
    "bsh.interpreter",
    "clojure.core",
    "com.thoughtworks.xstream",
    "org.hibernate.",
    "jdk.jshell",
    "ognl.ognl",
    "@ognl",
    "#_memberaccess",
    "#context[",
];

/// Functions only SQL has, when called (`name(`, spaces allowed).
const SQL_FUNCTIONS: &str = r#"\b(?:benchmark|pg_sleep|sleep|load_file|extractvalue|updatexml|xmltype|group_concat|concat_ws|concat|coalesce|ifnull|isnull|nullif|unhex|uncompress|compress|sysdate|strcmp|substr|substring|substring_index|rtrim|ltrim|name_const|make_set|export_set|md5|sha1|sha2|find_in_set|current_user|session_user|system_user|unistr|jsonb_pretty|json_build_object|json_extract|json_object|starts_with|sqlite_compileoption_used|sqlite_compileoption_get|sqlite_version|randomblob|char_length|bit_length|octet_length|ascii|ord|hex|mid|rand|cos|sin|tan|cot|pow|iif|elt|utl_inaddr\.get_host_address|utl_http\.request|dbms_pipe\.receive_message|dbms_xmlgen|ctxsys\.drithsx\.sn|xp_cmdshell|instr|locate|lcase|ucase|from_base64|to_base64|inet_aton|last_insert_id|row_count|found_rows|lo_(?:get|put|import|export|open|creat|create|unlink|from_bytea))\s*\\?\(|\b(?:database|schema|decode|encode|collation|charset|uuid|version|user|trim|insert|replace|left|right|length|format|position|char|space|field|power|log|now|repeat|reverse)\s*=?\s*\\?\(\s*(?:\)|$|['"@0-9]|select\b|null\b)"#;

/// Functions PHP code injection reaches for.
const PHP_FUNCTIONS: &str = r"(?:base64_decode|bzdecompress|call_user_func(?:_array)?|create_function|escapeshellcmd|file_get_contents|file_put_contents|fsockopen|pfsockopen|get_defined_(?:functions|vars|constants)|gzdecode|gzinflate|gzuncompress|highlight_file|ini_get_all|ini_set|move_uploaded_file|pcntl_exec|pcntl_fork|posix_[a-z]+|proc_open|proc_nice|shell_exec|show_source|str_rot13|stream_socket_client|zlib_decode|phpinfo|passthru|register_shutdown_function|register_tick_function|php_uname|putenv|mb_ereg_replace|curl_exec|curl_init|readfile|parse_str|assert_options|get_cfg_var|array_map|preg_replace|unserialize|print_r|var_dump|var_export|file_exists|is_array|is_file|is_dir|is_readable|is_writ(?:e)?able|strrev|str_replace|str_repeat|array_filter|array_walk|array_reduce|json_decode|fwrite|fputs|fgets|fread|opendir|readdir|scandir|unlink|tempnam|tmpfile|getcwd|realpath|phpversion|get_current_user|getmypid|error_reporting|set_time_limit|ignore_user_abort|ob_start|ob_get_contents)\s*(?:/\*.*?\*/\s*)*=?\s*\(";

/// How many of the characters SQL injections are written with a value
/// holds: quotes (straight and typographic), operators, brackets,
/// comment and statement marks.
fn restricted_chars(s: &str) -> usize {
    s.chars().filter(|c| "~!@#$%^&*()-+={}[]|:;\"'´’‘`<>".contains(*c)).count()
}

/// At least `N` of SQL's characters: the count is stricter as the
/// paranoia level rises (values are counted; `a[b][c]` array names are
/// not).
fn restricted<const N: usize>(s: &str) -> bool {
    restricted_chars(s) >= N
}

/// A character no form or query text needs once decoded: a control
/// character, `%` (left over from an encoding), or past ASCII anything but
/// a letter — bytes that are not UTF-8 (`%FF`) read as U+FFFD, and the
/// typographic quotes SQL injections use in place of `'` count. Letters
/// are let through: names and addresses in other languages are not
/// attacks, at any level.
fn unusual_character(s: &str) -> bool {
    s.chars().any(|c| c == '%' || c.is_control() || (!c.is_ascii() && !c.is_alphabetic()))
}

/// A byte outside the few an identifier, number, date, path or list
/// needs: letters, digits and `& , - . / : = _`.
fn outside_strict_set(s: &str) -> bool {
    !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"&,-./:=_".contains(&b))
}

/// A path segment naming a dotfile (`/.env`, `/.git/config`), except the
/// registered `/.well-known/` prefix.
fn hidden_file(path: &str) -> bool {
    crate::scan::split(path, b'/')
        .any(|seg| seg.len() > 1 && seg.starts_with('.') && seg != ".." && seg != ".well-known")
}

/// A run of eight or more of `[]()!+` holding an empty array: how
/// JSFuck spells `false`, `0` and from them everything else.
fn jsfuck(s: &str) -> bool {
    s.as_bytes().split(|b| !b"[]()!+".contains(b)).any(|run| run.len() >= 8 && run.windows(2).any(|w| w == b"[]"))
}

fn unix(s: &str) -> bool {
    shell::unix_command(s)
}

fn windows(s: &str) -> bool {
    shell::windows_command(s)
}

fn sql(s: &str) -> bool {
    sqli::is_sqli(s)
}

/// Every built-in rule.
pub fn all() -> Vec<BuiltIn> {
    let ua = |mut r: BuiltIn| {
        r.header = Some("user-agent");
        r.severity = Severity::Critical;
        r
    };
    let plain = |mut r: BuiltIn| {
        r.plain = true;
        r
    };
    let warn = |mut r: BuiltIn| {
        r.severity = Severity::Warning;
        r
    };
    // A count of SQL's characters is a warning on its own, and sees
    // plain tokens (`------`).
    let sql_chars = |id, paranoia, message, targets, count: fn(&str) -> bool| {
        plain(warn(rule(id, paranoia, message, targets, RAW, Matcher::Detect(count))))
    };
    let values = Targets::of(Target::Arg);
    let cookies = Targets::of(Target::Cookie);
    let headers = Targets::of(Target::Header);
    let path = Targets::of(Target::Path);
    let uri = Targets::of(Target::Uri);
    vec![
        // Scanners.
        ua(rule(913100, 1, "security scanner user agent", headers, NORM, Matcher::Phrases(SCANNERS))),
        // Protocol attacks.
        // A request line inside a value, wherever it starts (after other
        // text, or an entity-encoded line break in XML): what a smuggled
        // request looks like to the next server that parses it. Read raw:
        // the line itself needs no decoding to be found.
        rule(
            921110,
            1,
            "request smuggling in a value",
            ARGS_HEADERS,
            RAW,
            Matcher::Regex(
                r"(?i)(?:get|post|put|delete|head|options|connect|trace|track|patch|propfind|proppatch|mkcol|copy|move|lock|unlock)\s+(?:/|\*|https?://|[\w.-]+:\d)\S*\s+http/\d",
            ),
        ),
        rule(
            921130,
            1,
            "HTTP response splitting",
            ARGS,
            URL_DECODED,
            Matcher::Regex(
                r"(?i)[\r\n]\s*(?:content-(?:type|length)|set-cookie|location|refresh|x-[a-z-]+)\s*:|[\r\n]\s*http/\d(?:\.\d)?\s+\d{3}|[\r\n]\s*<(?:html|head|body|meta|script|title)\b",
            ),
        ),
        rule(921150, 1, "line break in an argument name", Targets::of(Target::ArgName), RAW, Matcher::Regex(r"[\r\n]")),
        // RFC 2965's `$Version` cookies: no browser sends them, and
        // servers that still read them take quoted values that hide
        // other cookies (a WAF bypass).
        rule(
            921250,
            1,
            "obsolete $Version cookie",
            Targets::of(Target::CookieName),
            RAW,
            Matcher::Regex(r"(?i)^\$version$"),
        ),
        // Local file inclusion.
        rule(
            930100,
            1,
            "path traversal (encoded)",
            uri,
            RAW,
            Matcher::Regex(
                r"(?i)%(?:2e|c0%ae|u002e|252e)(?:%(?:2e|c0%ae|u002e|252e)|\.)(?:%(?:2f|5c|c0%af|c1%9c|u2215|u2216|252f)|[/\\])|\.%(?:2e|u002e)[/\\%]",
            ),
        ),
        rule(
            930110,
            1,
            "path traversal",
            ALL_TEXT,
            NORM,
            Matcher::Regex(r"(?:^|[\\/;])\.{2,3}[\\/;]|[\\/;]\.{2,3}(?:[\\/;]|$)|^\.\.\\|\.\.;"),
        ),
        rule(
            930120,
            1,
            "operating system file access",
            ARGS_HEADERS.with(Target::FileName),
            NORM_NO_SPACE,
            Matcher::Regex(
                r"etc/(?:passwd|shadow|master\.passwd|group|hosts|issue|sudoers|crontab|security/|ssh/)|proc/(?:self|\d+)/(?:environ|cmdline|maps|fd|status|mem)|(?:^|[/\\])(?:win\.ini|boot\.ini|system\.ini)$|[/\\]sam$|windows[/\\](?:win\.ini|system32)|\.ssh/(?:id_[a-z0-9]+|authorized_keys)|\.bash_history|\.htpasswd|\.htaccess|wp-config\.php|web\.config|/\.git/|\.aws/credentials|(?:^|/)\.env(?:$|[/.])|(?:^|/)\.git/(?:config|head|index|logs/)|web-inf/(?:web\.xml|classes/|lib/)|meta-inf/(?:manifest\.mf|context\.xml)|var/log/(?:apache2?|httpd|nginx|auth\.log|syslog|messages|secure)|etc/(?:mysql/|nginx/|apache2/|httpd/|my\.cnf|resolv\.conf|fstab|motd|environment|profile$|ssl/)|(?:^|/)\.(?:bashrc|bash_profile|zshrc|mysql_history|psql_history|netrc|pgpass|npmrc|kube/config|docker/config\.json)$",
            ),
        ),
        rule(
            930130,
            1,
            "restricted file access",
            path,
            PATH,
            Matcher::Regex(
                r"/(?:proc|sys)/(?:self|class|kernel|devices|bus|fs|firmware|module|power|block|dev|interrupts|cpuinfo|meminfo|version|mounts|net|\d+)|\.(?:sql|bak|backup|old|orig|save|swp|dump|db|sqlite3?)(?:\.(?:zip|gz|tgz|tar|7z|rar|bz2|xz))?$|\.(?:zip|tar\.gz|tgz)$.*|(?:debug|error|errors|access|install|upgrade)\.log$|/@fs/|/@id/|wp-config\.php|/web\.config$|/(?:id_rsa|id_dsa|id_ecdsa|id_ed25519)$|/server-status|/phpinfo\.php",
            ),
        ),
        rule(930131, 1, "hidden file access", path, PATH, Matcher::Detect(hidden_file)),
        // Remote file inclusion.
        rule(
            931110,
            1,
            "remote file inclusion parameter",
            uri,
            NORM,
            Matcher::Regex(
                r"(?:\binclude\s*\([^)]*|mosconfig_absolute_path|_conf\[path\]|_server\[document_root\]|gallery_basedir|path\[docroot\]|appserv_root|config\[root_dir\])\s*=\s*(?:file|ftps?|https?)://",
            ),
        ),
        rule(
            931120,
            1,
            "remote file inclusion (URL ending in ?)",
            Targets::of(Target::Arg),
            NORM,
            Matcher::Regex(r"^(?:file|ftps?|https?)://.*?\?+$"),
        ),
        rule(
            931100,
            1,
            "remote file inclusion with an IP address",
            Targets::of(Target::Arg),
            NORM,
            Matcher::Regex(r"^(?:file|ftps?|https?)://(?:\d{1,3}\.){3}\d{1,3}"),
        ),
        // Remote command execution.
        plain(rule(932100, 1, "Unix command injection", ARGS_HEADERS, NORM, Matcher::Detect(unix))),
        rule(932110, 1, "Windows command injection", ARGS_HEADERS, NORM, Matcher::Detect(windows)),
        // The cmdlets and switches of a PowerShell download-and-run or
        // reconnaissance, anywhere in a value.
        rule(
            932120,
            1,
            "PowerShell command",
            ARGS_HEADERS,
            NORM,
            Matcher::Regex(
                r"\b(?:invoke-(?:webrequest|restmethod|expression|command|item|wmimethod|shellcode|mimikatz)|start-(?:process|bitstransfer)|get-(?:childitem|wmiobject|ciminstance|itemproperty|credential|localuser|acl)|set-(?:executionpolicy|mppreference|itemproperty)|add-mppreference|new-localuser)\b|\bnew-object\s+(?:-com\b|(?:system\.)?net\.)|\.download(?:string|file|data)\s*\(|\s-(?:enc|encodedcommand|ec)\s+[a-z0-9+/=]{16,}|\s-executionpolicy\s+bypass\b|\s-w(?:indowstyle)?\s+hidden\b",
            ),
        ),
        // Files that change how the server runs what is next to them.
        rule(
            932180,
            1,
            "restricted file upload",
            Targets::of(Target::FileName),
            NORM,
            Matcher::Regex(
                r"(?:^|[/\\])(?:\.htaccess|\.htdigest|\.htpasswd|\.user\.ini|php\.ini|web\.config|httpd\.conf|\.bashrc|\.bash_profile|\.profile|\.zshrc|authorized_keys|\.npmrc|\.pgpass)\s*$",
            ),
        ),
        rule(
            932130,
            1,
            "Unix shell expression",
            ARGS_HEADERS,
            NORM,
            Matcher::Regex(
                r"\$\((?:.*\)|\(|$)|\$\{[^}]*\}|\$\[|[<>]\([^)]*\)|/[a-z0-9_.*?-]*\[!?[^\]\s]+\][a-z0-9_.*?-]*",
            ),
        ),
        rule(932170, 1, "Shellshock", ARGS_HEADERS, NORM, Matcher::Regex(r"\(\s*\)\s*\{")),
        rule(932280, 1, "shell command in a brace expansion", ARGS, NORM, Matcher::Detect(shell::brace_command)),
        rule(932175, 1, "shell alias", ARGS, NORM, Matcher::Detect(shell::alias)),
        rule(
            932270,
            1,
            "shell tilde or history expansion",
            ARGS,
            NORM,
            Matcher::Regex(r"(?:^|\s)~[+-]\d*(?:\s|$)|!-\d"),
        ),
        // Paranoia 2: a command at the start of a value with a shell-like
        // argument anywhere; SQLite's shell commands after a statement;
        // `. file`, which runs a file in the current shell; an IMAP
        // command on a line of its own after a tag (`a001 login …`).
        rule(932236, 2, "Unix command line", ARGS_HEADERS, NORM, Matcher::Detect(shell::leading_command)),
        rule(
            932210,
            2,
            "SQLite shell command",
            ARGS,
            NORM,
            Matcher::Regex(
                r#"(?:^|;)\s*\.\s*['"\\]*(?:shell|system|sh|databases|tables|schema|dump|import|output|once|load|read|open|backup|restore|clone)\b"#,
            ),
        ),
        rule(932231, 2, "Unix source shortcut", ARGS, NORM, Matcher::Regex(r"(?:^|[;&|])\s*\.\s+(?:\./|[~/a-z0-9_$])")),
        rule(
            932310,
            2,
            "IMAP command injection",
            ARGS,
            RAW,
            Matcher::Regex(
                r"(?i)\r?\n[a-z]+[0-9]+[a-z0-9]*[ \t]+(?:append|authenticate|capability|check|close|copy|create|delete|examine|expunge|fetch|idle|list|login|logout|lsub|noop|rename|search|select|starttls|status|store|subscribe|uid|unselect|unsubscribe)\b",
            ),
        ),
        // PHP.
        rule(
            933100,
            1,
            "PHP open tag",
            ARGS_HEADERS.with(Target::FileName),
            NORM,
            Matcher::Regex(r"<\?(?:php|=)|\[php\]"),
        ),
        rule(
            933110,
            1,
            "PHP script upload",
            Targets::of(Target::FileName),
            NORM,
            Matcher::Regex(r"\.\s*(?:php\d*|phtml|phar|phps|pht|phpt|pgif|shtml)[\s.]*$"),
        ),
        // Paranoia 2: a call of a function of a PHP extension, by its
        // prefix (`array_diff (`, `pg_…`, `sodium_…`), or of a resolver.
        rule(
            933151,
            2,
            "PHP extension function call",
            ARGS.with(Target::Path),
            NORM,
            Matcher::Regex(
                r"\b(?:(?:array|pg|ldap|odbc|sodium|tidy|zend|mysqli|openssl|curl|gz|mb|posix|preg|stream|socket|imap|ftp|libxml|xml|xmlwriter|session|ob|sqlite|oci|ibase|fbird|db2|dba|bz|zip|image|exif|iconv|intl|grapheme|idn|finfo|bc|gmp|ctype|apache|ini|xsl|soap|yaml|apcu|opcache|pcntl|shmop|msg|ssh2|snmp|dns|mcrypt|mhash|recode|readline|pspell|enchant|gettext|ncurses|expect)_[a-z0-9_]+|gethostby(?:name|namel|addr)|getmxrr|checkdnsrr)\s*\(",
            ),
        ),
        // `shell.php.jpg`: a server that maps `.php` anywhere in the name
        // to PHP runs it.
        rule(
            933111,
            3,
            "PHP script upload (double extension)",
            Targets::of(Target::FileName),
            NORM,
            Matcher::Regex(r"\.\s*(?:php\d*|phtml|phar|pht)\s*\."),
        ),
        rule(
            933120,
            1,
            "PHP configuration directive",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\b(?:allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions|open_basedir|safe_mode|register_globals|suhosin\.[a-z_.]+)\s*=",
            ),
        ),
        rule(
            933130,
            1,
            "PHP superglobal",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\$_(?:get|post|cookie|server|request|env|files|session)\b|\$globals\b|\$http_(?:get|post|cookie|server|env|session|post_files)_vars|\$http_raw_post_data",
            ),
        ),
        rule(933135, 1, "PHP variable variable", ARGS, NORM, Matcher::Regex(r"\$\s*\{\s*\S")),
        rule(
            933140,
            1,
            "PHP stream wrapper",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\b(?:php|phar|zlib|glob|expect|ssh2(?:\.[a-z]+)?|rar|ogg|zip|data|compress\.zlib|compress\.bzip2)://",
            ),
        ),
        rule(933150, 1, "PHP function call", ARGS, NORM_NO_COMMENTS, Matcher::Regex(PHP_FUNCTIONS)),
        rule(
            933160,
            1,
            "PHP code execution call",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r#"\b(?:system|exec|eval|assert|popen|include|require|include_once|require_once)\s*\(\s*(?:['"$]|[a-z_]+\s*\()"#,
            ),
        ),
        rule(
            933170,
            1,
            "PHP object injection",
            ARGS_HEADERS,
            NORM,
            Matcher::Regex(r#"(?:^|[;{:])[oc]:\d+:"[^"]*":\d+:\{"#),
        ),
        rule(
            933210,
            1,
            "PHP variable function call",
            ARGS,
            NORM_NO_SPACE,
            Matcher::Regex(r#"(?:\)|\]|\}|["'])\([^()]*\);|\$[a-z_][a-z0-9_]*(?:\[[^\]]*\])*\(['"$]"#),
        ),
        // Generic: Node.js, Ruby, SSRF, prototype pollution.
        rule(
            934100,
            1,
            "Node.js code injection",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r#"child_process|process\.(?:mainmodule|binding|dlopen)|global(?:this)?\.process\b|process\.(?:kill|abort|setuid|setgid|seteuid|setegid|chdir)\s*\(|require\s*\(\s*['"](?:child_process|fs|net|vm|os|http)['"]|constructor\.constructor|this\.constructor|new\s+function\s*\(|\.(?:execsync|spawnsync)\s*\(|__dirname"#,
            ),
        ),
        rule(
            934110,
            1,
            "server-side request forgery (metadata or loopback)",
            ARGS,
            NORM,
            Matcher::Regex(
                r"169\.254\.169\.254|169\.254\.170\.2|metadata\.google\.internal|metadata\.packet\.net|100\.100\.100\.200|192\.0\.0\.192|metadata\.azure|fd00:ec2::254|metadata\.tencentyun|/latest/(?:meta|user)-data|computemetadata/|(?:https?|gopher|dict|ftp|file|ldap|tftp|sftp|netdoc|jar):/*(?:127\.\d+\.\d+\.\d+|0\.0\.0\.0|0x7f|2130706433|017700000001|\[(?:0*:)*:?0*1?\])",
            ),
        ),
        plain(rule(
            934130,
            1,
            "JavaScript prototype pollution",
            ARGS,
            NORM,
            Matcher::Regex(r"__proto__|constructor\]?\s*(?:\.|\[)\s*prototype"),
        )),
        rule(
            934150,
            1,
            "Ruby code injection",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\b(?:process\.spawn|kernel\.(?:exec|system|spawn|open|eval)|io\.popen|open3\.(?:popen3|capture2e?)|pty\.spawn)\s*\(|%x\{",
            ),
        ),
        rule(
            934160,
            1,
            "Node.js denial of service",
            ARGS,
            NORM,
            Matcher::Regex(r"while\s*\(\s*(?:true|1|!0)\s*\)|\bfor\s*\(\s*;\s*;\s*\)"),
        ),
        rule(
            934170,
            1,
            "data: URI",
            ARGS,
            NORM,
            Matcher::Regex(r"^\s*data:(?:(?:text|application|model|multipart|message)/[a-z0-9.+-]+|;base64|,)"),
        ),
        rule(
            934190,
            1,
            "server-side request forgery (local host name)",
            ARGS,
            NORM,
            Matcher::Regex(
                r"^(?:[a-z][a-z0-9+.-]*:/*)?(?:localhost|localhost\.localdomain|localhost[46](?:\.localdomain[46])?|ipv6-localhost|ip6-localhost|ip6-loopback|(?:host|gateway|kubernetes)\.docker\.internal|host\.containers\.internal|kubernetes\.default(?:\.svc(?:\.cluster\.local)?)?|(?:[a-z0-9-]+\.)?(?:localtest\.me|lvh\.me|vcap\.me|lacolhost\.com))(?::\d+)?/",
            ),
        ),
        // Cross-site scripting.
        rule(
            941110,
            1,
            "XSS: script tag",
            ALL_TEXT,
            NORM,
            Matcher::Regex(r"<\s*/?\s*(?:[a-z0-9]+:)?script\b|¼\s*/?\s*[a-z]+\s*¾|\+ad[w4]-"),
        ),
        rule(
            941120,
            1,
            "XSS: event handler in a tag",
            ALL_TEXT,
            NORM,
            Matcher::Regex(r#"<[a-z!][^>]*?[\s/"'`;](?:on[a-z]{3,25})\s*="#),
        ),
        rule(
            941121,
            2,
            "XSS: event handler",
            ARGS_HEADERS,
            NORM,
            Matcher::Regex(r#"[\s"'`;/0-9=(,]on[a-z]{3,25}\s*=[^=]"#),
        ),
        rule(
            941130,
            1,
            "XSS: dangerous attribute or declaration",
            ALL_TEXT,
            NORM,
            Matcher::Regex(
                r#"<!\s*(?:entity|doctype)\b|!entity\s+(?:%\s*)?[a-z0-9_.-]+\s+(?:system|public)\b|<[a-z][^>]*[\s/"'](?:xmlns(?::[a-z0-9]+)?|xlink:href|xi:include|formaction|pattern|dynsrc|lowsrc|datasrc|datafld|background|poster|srcdoc|style\s*=\s*["']?[^"'>]*(?:expression|url\(|behavior|-moz-binding))|<xi:include"#,
            ),
        ),
        rule(
            941170,
            1,
            "XSS: script URI or style injection",
            ALL_TEXT,
            NORM_NO_SPACE,
            Matcher::Regex(
                r"(?:java|vb|live|ecma)script:|-moz-binding|@import|expression\(|data:[^,]*,.*<|data:(?:text/html|text/xml|image/svg\+xml|application/(?:xhtml\+xml|xml|javascript|x-javascript|ecmascript)|text/(?:javascript|ecmascript))[;,]",
            ),
        ),
        rule(
            941160,
            1,
            "XSS: HTML injection",
            ALL_TEXT,
            NORM,
            Matcher::Regex(
                r"<\s*/?\s*(?:iframe|frame|frameset|object|embed|applet|meta|link|base|style|svg|math|xss|isindex|form|marquee|bgsound|layer|ilayer|xml|import|template|noembed|noscript|portal|xmp|plaintext|[a-z]+:vml[a-z]*)\b",
            ),
        ),
        rule(
            941180,
            1,
            "XSS: JavaScript call",
            ALL_TEXT,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\b(?:alert|prompt|confirm|eval|atob|btoa|settimeout|setinterval|fetch|execscript)\(|new\s+function\s*\(|string\.fromcharcode|\.(?:inner|outer)html\s*=|\.parentnode\b|document\.write|import\s*\{[^}]*\}\s*from|\bimport\s*\(",
            ),
        ),
        rule(
            941370,
            1,
            "XSS: JavaScript global object access",
            ALL_TEXT,
            NORM_NO_SPACE,
            Matcher::Regex(
                r#"\b(?:self|window|top|parent|frames|globalthis|document|this)\)?\[["'`\\]|\bdocument\)?\.(?:cookie|domain|location|write)|\bwindow\.location"#,
            ),
        ),
        // JSFuck and the like write any script with six characters.
        rule(941360, 1, "XSS: JavaScript written in brackets and signs", ALL_TEXT, NORM, Matcher::Detect(jsfuck)),
        // A function called without parentheses: a tagged template (not
        // Markdown's `eval` in inline code), an error handler, a callback.
        rule(
            941400,
            1,
            "XSS: JavaScript call without parentheses",
            ALL_TEXT,
            NORM,
            Matcher::Regex(
                r"(?:^|[^`a-z0-9_$])(?:alert|prompt|confirm|eval|settimeout|setinterval|print)\s*`|\bonerror\s*=\s*(?:alert|prompt|confirm|eval)\b|\.(?:map|call|apply|bind|foreach|sort|then|find|filter)\s*\(\s*(?:alert|prompt|confirm|eval)\s*\)",
            ),
        ),
        // SQL injection.
        rule(942100, 1, "SQL injection (syntax)", ARGS_HEADERS, NORM, Matcher::Detect(sql)),
        rule(
            942140,
            1,
            "SQL database or catalog name",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\b(?:information_schema|master\.\.sysdatabases|msysaccessobjects|msysaccessstorage|msysaccessxml|msysaces|msysmodules2?|msysobjects|msysqueries|msysrelationships|mysql\.(?:db|user)|pg_(?:catalog|toast|shadow)|sqlite_(?:temp_)?master|sys\.database_name|sysaux)\b|\b(?:database|db_name|schema|schema_name)\s*\(\s*\)",
            ),
        ),
        // The numbers that overflow a 32-bit integer or a double's
        // parser, alone in a value.
        plain(rule(
            942220,
            1,
            "integer or float overflow probe",
            ARGS,
            NORM,
            Matcher::Regex(
                r"^(?:-?0000023456|0000012345|4294967295|4294967296|2147483648|-2147483648|-2147483649|2\.2250738585072007e-308|2\.2250738585072011e-308|1e309)$",
            ),
        )),
        rule(
            942240,
            1,
            "SQL character set switch",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(r"\balter\s+[a-z0-9_]+.*?\bchar(?:acter)?\s+set\s+[a-z0-9_]"),
        ),
        // A quote closed and the statement ended at once: the login
        // query split in two.
        rule(
            942540,
            1,
            "SQL authentication bypass (split query)",
            ARGS,
            NORM,
            Matcher::Regex(r#"^(?:[^']*'|[^"]*"|[^`]*`)\s*;"#),
        ),
        rule(942151, 1, "SQL function call", ARGS, NORM_NO_COMMENTS, Matcher::Regex(SQL_FUNCTIONS)),
        rule(
            942170,
            1,
            "SQL time-based injection",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"(?:select|;)\s*(?:if\s*\(|sleep\b|benchmark\b|pg_sleep\b|waitfor\b)|\bwaitfor\s+(?:delay|time)\b",
            ),
        ),
        rule(
            942190,
            1,
            "SQL code execution or schema probe",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\bunion\s+(?:all\s+|distinct\s+)?select\b|\bexec(?:ute)?\s+(?:master\.|xp_|sp_)|\binformation_schema\b|\binto\s+(?:out|dump)file\b|\bselect\s*\(\s*user\b|@@version",
            ),
        ),
        // `unionselect`: the two words run together, as a filter that
        // strips spaces or comments leaves them.
        plain(rule(
            942270,
            1,
            "SQL union select run together",
            ARGS,
            NORM,
            Matcher::Regex(r"union(?:all|distinct)?select"),
        )),
        rule(
            942230,
            1,
            "SQL conditional",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\)\s*like\s*\(|\bcase\s+when\b.*\bthen\b|\bif\s*\(\s*\d+\s*[=<>]|\bhaving\s+(?:count|sum|min|max|avg)\s*\(",
            ),
        ),
        rule(
            942250,
            1,
            "SQL merge, execute immediate, match against",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(r"\bmerge\s+into\b|\bexecute\s+immediate\b|\bmatch\s*\([^)]*\)\s*against\b"),
        ),
        rule(
            942290,
            1,
            "MongoDB injection",
            ARGS,
            NORM,
            Matcher::Regex(
                r"(?:\[\s*|^)\$(?:ne|eq|lte?|gte?|n?in|mod|all|size|exists|type|slice|or|and|nor|not|regex|where|elemmatch|expr|text|jsonschema|function|accumulator)(?:\s*\]|$)",
            ),
        ),
        rule(
            942350,
            1,
            "SQL DDL, UDF or stacked write",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\bcreate\s+(?:or\s+replace\s+)?function\b.*\breturns\b|;\s*(?:alter|create|drop|truncate|rename)\b|;\s*(?:insert|replace)\s+(?:into\s+)?[a-z0-9_.`]+\s*\([^)]*\)\s*values\b",
            ),
        ),
        rule(
            942550,
            1,
            "SQL JSON operators",
            ARGS.with(Target::Path),
            NORM,
            Matcher::Regex(
                r#"::jsonb?\b|['"]\s*(?:@>|<@|->>?|#>>?|\?[|&]?|@\?|@@)\s*['"]|\?[|&]\s*array\[|(?:@>|<@)\s*['"][\[{]|['"]\s*[<>]=?\s*['"]\$|\bjson_(?:extract|keys|contains|value|query)\s*\("#,
            ),
        ),
        // SQL injection, paranoia 2: looser shapes, more false positives.
        // Chained conditions as a WHERE clause takes them, minified
        // scripts' `&&(a="` among them (`<div id="` is HTML, not MySQL's
        // DIV); a condition left open at the end of a value; stacked
        // statements and `SET @variable`.
        rule(
            942210,
            2,
            "SQL chained condition",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r#"(?:\band|\bor|\bxor|&&|\|\|)\s+[\w"'@.`-]+\s*(?:[=<>!]?=|<>|\blike\b|\bin\b)\s*[\w"'(@.-]|;\s*(?:insert|update|delete|select|drop|create|alter)\s+\w|@\.\s*:?=|=\s*\(\s*select\b|(?:&&|\|\||(?:^|[^a-z0-9_<])(?:and|x?or|not|nand|between|like|div))[\s(]+[a-z0-9_]+[\s)]*(?:[!=]?=|=!)[\s\d]*(?:["'()=`]|$)|/[a-z0-9_]+;?\s+(?:and|between|div|having|like|x?or|select)\s*(?:\(|$)|[#;>]\s*(?:insert|update)[a-z0-9_]{2,}|(?:^|[;>=]|--)\s*set\s+@@?[a-z_]"#,
            ),
        ),
        // The same in a value of letters, digits and dashes alone, where
        // comments are not taken out first: `4or2-`, `--alter`.
        plain(rule(
            942210,
            2,
            "SQL chained condition",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\d(?:and|between|div|like|x?or)\d+[+-]|--\s*(?:alter|drop|create)\s*(?:$|\s(?:table|database|schema|user|index|view|procedure|function|trigger|column)\b)",
            ),
        )),
        // The comparison operators only SQL has, between literals: a quote
        // or a digit on one side, so that "a regexp tutorial" or "sounds
        // like a plan" are prose.
        rule(
            942120,
            2,
            "SQL operator between literals",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r#"['"`\d)]\s*(?:not\s+)?(?:regexp|rlike|sounds\s+like)\s*(?:binary\s+)?['"`\d(]|['"`\d)]\s*(?:not\s+)?(?:regexp|rlike)\s+[a-z_]|(?:regexp|rlike)\s*['"`\d(]"#,
            ),
        ),
        rule(
            942390,
            2,
            "SQL boolean probe",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(r#"(?:^|['"`)])\s*(?:or|xor|and|div)\s+['"]?[\w@.-]+['"]?\s*(?:[<>=!,]|\blike\b|$)"#),
        ),
        rule(
            942410,
            2,
            "SQL function call (any)",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(
                r"\b(?:abs|acos|adddate|addtime|aes_(?:de|en)crypt|asin|atan2?|avg|bin|bit_(?:and|or|xor|count)|cast|ceil(?:ing)?|char|chr|coalesce|conv|convert(?:_tz)?|cos|count|crc32|cur(?:date|time)|current_(?:date|time|timestamp)|date(?:_add|_format|_sub|diff)?|day(?:name|ofmonth|ofweek|ofyear)?|default|degrees|exp|extract|field|floor|format|from_(?:days|unixtime)|get_lock|glob|greatest|hour|if|in|inet_ntoa|interval|last_day|least|left|length|ln|local(?:time|timestamp)?|log(?:2|10)?|lower|lpad|makedate|maketime|max|microsecond|min|minute|mod|month(?:name)?|now|oct|old_password|password|period_(?:add|diff)|pi|position|pow|power|quarter|quote|radians|release_lock|repeat|replace|reverse|right|round|rpad|sec_to_time|second|sign|soundex|space|sqrt|std(?:dev)?|str_to_date|subdate|subtime|sum|time(?:_format|_to_sec|diff|stamp(?:add|diff)?)?|to_(?:char|days|number)|trim|truncate|upper|utc_(?:date|time|timestamp)|values|var_pop|variance|week(?:day|ofyear)?|year(?:week)?)[^a-z0-9_(]*\(",
            ),
        ),
        plain(rule(
            942470,
            2,
            "SQL server and database keywords",
            ARGS,
            NORM,
            Matcher::Regex(
                r"\b(?:xp_[a-z_]+|sp_(?:password|executesql|oacreate|oamethod|makewebtask|addextendedproc|configure|addsrvrolemember|adduser)|n?varchar|varbinary|opendatasource|openrowset|openquery|dbms_(?:java|pipe|lock|xmlquery)|utl_(?:file|http|inaddr|smtp)|autonomous_transaction|sys\.(?:user_objects|all_tables|dba_users)|sysdatabases|syslogins|pg_(?:sleep|read_file|ls_dir|user))\b",
            ),
        )),
        rule(942130, 2, "SQL tautology between literals", ARGS, NORM_NO_COMMENTS, Matcher::Detect(sqli::tautology)),
        // A value that is a quote and at most one character more, or an
        // escaped quote or `#` written out (`\x27`): probes for how quotes
        // reach a query. Raw, as a decoder would turn `\x27` into a quote.
        rule(942330, 2, "SQL quote probe", ARGS, RAW, Matcher::Regex(r#"^.?["'`]$|\\x(?:2[37]|3d)"#)),
        ua(rule(
            942152,
            2,
            "SQL function call in the User-Agent",
            headers,
            NORM_NO_COMMENTS,
            Matcher::Regex(SQL_FUNCTIONS),
        )),
        rule(
            942370,
            2,
            "SQL probe after a quote",
            ARGS,
            NORM_NO_COMMENTS,
            Matcher::Regex(r#"^\s*\^?\s*['"`]\s*(?:[*?#^=]|$|(?:or|and|xor)\s+\w+\s+\w)"#),
        ),
        // Session fixation: a value that sets a cookie from a page (943110
        // and 943120, a session id in an argument, are in `session`).
        rule(
            943100,
            1,
            "cookie set from a value (session fixation)",
            ARGS,
            NORM,
            Matcher::Regex(r"\.cookie\s*=.*?;\s*(?:expires|domain|path|max-age)\s*=|http-equiv\W+set-cookie\b"),
        ),
        // Java.
        rule(
            944100,
            1,
            "Java code execution",
            ARGS_HEADERS,
            NORM_NO_SPACE,
            Matcher::Regex(
                r"java\.(?:lang\.)?(?:runtime|processbuilder)|\.getruntime\(\)|\.exec\(|\.getclass\(\)\.forname|[.$]classloader|classloader(?:\(|\.[a-z]+\()|\.forname\(",
            ),
        ),
        rule(944130, 1, "Java class name", ARGS_HEADERS, NORM, Matcher::Phrases(JAVA_CLASSES)),
        rule(
            944250,
            2,
            "Java runtime or process builder named",
            ARGS_HEADERS,
            NORM,
            Matcher::Regex(r"\bjava\b.+(?:runtime|processbuilder)"),
        ),
        rule(
            944140,
            1,
            "Java server page upload",
            Targets::of(Target::FileName),
            NORM,
            Matcher::Regex(r"\.\s*jspx?[\s.]*$"),
        ),
        rule(
            944150,
            1,
            "Log4Shell lookup",
            ALL_TEXT.with(Target::Uri),
            NORM_NO_SPACE,
            Matcher::Regex(r"\$\{(?:\$\{|[a-z0-9]*:|::-)"),
        ),
        // Java's serialization magic `AC ED 00 05`, in hex or base64 at
        // each of its three alignments: a plain token, so `plain`.
        plain(rule(
            944210,
            1,
            "Java serialized object",
            ARGS_HEADERS,
            RAW,
            Matcher::Regex(r"rO0AB|KztAAU|Cs7QAF|aced0005"),
        )),
        warn(rule(920100, 2, "control character in a value", ARGS, RAW, Matcher::Regex(r"[\x01-\x08\x0e-\x1f]"))),
        // Paranoia 3 and 4: characters outside what ordinary values use.
        // Every legitimate value with them (`50 %`, `it’s`, a space at
        // level 4) is a false positive to exclude: these levels are for
        // applications whose inputs are known to be narrow.
        rule(
            920272,
            3,
            "control, leftover % or non-letter character past ASCII",
            Targets::of(Target::Uri).with(Target::Arg).with(Target::ArgName).with(Target::Header),
            URL_DECODED,
            Matcher::Detect(unusual_character),
        ),
        rule(
            920273,
            4,
            "character outside the strict set in an argument",
            Targets::of(Target::Arg).with(Target::ArgName),
            RAW,
            Matcher::Detect(outside_strict_set),
        ),
        // Wildcards that the shell expands to a file it is not named by
        // (`cat /et*/*wd`, `/???/?s`), and history expansion alone
        // (`!!`, `!-1`).
        rule(
            932190,
            3,
            "shell wildcard in a path",
            ARGS,
            NORM,
            Matcher::Regex(r"(?:^|[\s;|&=])/[a-z0-9_.?*-]*[?*][a-z0-9_.?*-]*/"),
        ),
        rule(932331, 3, "shell history expansion", ARGS, NORM, Matcher::Regex(r"^\s*!(?:!|-?[0-9]+)\s*$")),
        // Django's ORM takes `field__lookup` names from a query as
        // filters: `password__isnull`, `user__username__startswith` read
        // what the page never shows. An application that filters this way
        // on purpose excludes its own names.
        plain(rule(
            934210,
            3,
            "ORM lookup in an argument name (Django)",
            ARGS,
            RAW,
            Matcher::Regex(
                r"[a-z0-9]__(?:i?(?:startswith|endswith|contains|exact|regex)|gte?|lte?|in|isnull|range|has_keys?|has_any_keys|contained_by|overlap|search|trigram_similar|unaccent)(?:$|[^a-z0-9_])",
            ),
        )),
        // A quote, then at once (past spaces and digits) an operator and a
        // number: how a value is probed for where its quote lands in a
        // query (`"2562*23`, `' ', 10`, `` `>65 ``).
        rule(
            942490,
            3,
            "SQL probe: a quote then an operator and a number",
            values,
            NORM,
            Matcher::Regex(r#"["'`][\s0-9]*[^a-z0-9_\s][^a-z0-9_]*[0-9][^a-z0-9_]*.*["'`0-9]"#),
        ),
        sql_chars(942430, 2, "12 or more SQL characters in a value", values, restricted::<12>),
        sql_chars(942431, 3, "6 or more SQL characters in a value", values, restricted::<6>),
        sql_chars(942432, 4, "2 or more SQL characters in a value", values, restricted::<2>),
        sql_chars(942420, 3, "8 or more SQL characters in a cookie", cookies, restricted::<8>),
        sql_chars(942421, 4, "3 or more SQL characters in a cookie", cookies, restricted::<3>),
        // A NUL ends a string in C: what comes after it is unseen by one
        // parser and read by the next.
        rule(
            920270,
            1,
            "NUL byte in a value",
            ARGS_HEADERS.with(Target::FileName),
            URL_DECODED,
            Matcher::Regex(r"\x00"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_regex_compiles_and_ids_name_one_check() {
        let rules = super::all();
        // One check may take two rules, one per transformation chain: they
        // share the id and the message. Two checks never share an id.
        let mut ids: Vec<(u32, &str)> = rules.iter().map(|r| (r.id, r.message)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert!(ids.windows(2).all(|w| w[0].0 != w[1].0), "an id with two messages");
        for r in &rules {
            if let super::Matcher::Regex(p) = r.matcher {
                regex::Regex::new(p).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            }
        }
    }
}
