//! Session fixation: an attacker plants a link that sets the session id
//! through an argument (`/login?jsessionid=…`); once the victim logs in,
//! the attacker holds a logged-in session. A session id in an argument is
//! flagged when the request came from another site's page (its Referer
//! names another host) or from no page at all (no Referer): the Core Rule
//! Set's 943110 and 943120. Setting a cookie from a value (943100) is a
//! pattern rule in `rules`.

/// A session id in an argument, from another site's page.
pub const FOREIGN_REFERER: u32 = 943110;
/// A session id in an argument, with no Referer.
pub const NO_REFERER: u32 = 943120;

/// Whether `name` is an argument the common frameworks read a session
/// id from (their session cookies' default names), whatever its case.
pub fn is_session_arg(name: &str) -> bool {
    // Lowered into a buffer, then one `match` (the compiler switches on
    // the length before comparing): most names are ruled out at once.
    let mut buffer = [0u8; 32];
    let Some(lower) = buffer.get_mut(..name.len()) else { return false };
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    let lower: &[u8] = lower;
    matches!(
        lower,
        // Java, ASP and ASP.NET, ColdFusion.
        b"jsessionid"
            | b"jsessionidsso"
            | b"jservsession"
            | b"jwsession"
            | b"weblogicsession"
            | b"aspsessionid"
            | b"asp.net_sessionid"
            | b"cfid"
            | b"cftoken"
            | b"cfsid"
            // PHP: plain, Laravel, CodeIgniter, CakePHP, Zend, Symfony.
            | b"phpsessid"
            | b"phpsession"
            | b"laravel_session"
            | b"ci_session"
            | b"cakephp"
            | b"zend_session_id"
            | b"symfony"
            // Python: Django, Flask, Beaker.
            | b"sessionid"
            | b"_flask_session"
            | b"beaker.session.id"
            // Ruby: Rack, Rails.
            | b"rack.session"
            | b"_session_id"
            | b"_rails_session"
            // Node.js: Express, Sails, Koa, NextAuth, Meteor.
            | b"connect.sid"
            | b"express.sid"
            | b"sails.sid"
            | b"koa.sess"
            | b"koa:sess"
            | b"next-auth.session-token"
            | b"__secure-next-auth.session-token"
            | b"__host-next-auth.session-token"
            | b"meteor_login_token"
            // Others: Play, Shiny, and the generic spellings.
            | b"play_session"
            | b"shiny-token"
            | b"session_id"
            | b"session-id"
    )
        // Classic ASP appends letters to the name (ASPSESSIONIDQSCTRTBA).
        || lower.len() > 12 && lower.starts_with(b"aspsessionid")
}

/// What a finding says.
pub fn message(id: u32) -> &'static str {
    if id == NO_REFERER {
        "session id set in an argument, with no Referer (session fixation)"
    } else {
        "session id set in an argument from another site (session fixation)"
    }
}

/// The rule a request with a session-id argument breaks, given its
/// Referer and Host, if any. `api_body`: the request carries a JSON or
/// XML body, which no link or form can send, so without a Referer it is
/// an API client's, not a victim's browser's.
pub fn fixation(referer: Option<&str>, host: &str, api_body: bool) -> Option<u32> {
    let Some(referer) = referer else { return (!api_body).then_some(NO_REFERER) };
    let from = referring_host(referer)?;
    (!same_site(from, host)).then_some(FOREIGN_REFERER)
}

/// The host (with any port) of an `http(s)` or `ftp(s)` Referer; `None`
/// for anything else, which names no site to compare.
fn referring_host(referer: &str) -> Option<&str> {
    let (scheme, rest) = referer.split_once("://")?;
    if !["http", "https", "ftp", "ftps"].iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Credentials before an `@` are not the host.
    Some(authority.rsplit_once('@').map_or(authority, |(_, host)| host))
}

/// `host` without a `:port`.
pub fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether `from` is `host` or one of its subdomains, compared as written
/// (ports too): a page on `www.example.com` is `example.com`'s.
pub fn same_host(from: &[u8], host: &[u8]) -> bool {
    if host.is_empty() || from.len() < host.len() {
        return false;
    }
    let (head, tail) = from.split_at(from.len() - host.len());
    tail.eq_ignore_ascii_case(host) && (head.is_empty() || head.ends_with(b"."))
}

/// `same_host`, whatever the ports: a link from the site's HTTPS port to
/// its HTTP one is still the site's own.
fn same_site(from: &str, host: &str) -> bool {
    same_host(without_port(from).as_bytes(), without_port(host).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a request with the argument `name` gets.
    fn flagged(name: &str, referer: Option<&str>, host: &str, api_body: bool) -> Option<u32> {
        is_session_arg(name).then(|| fixation(referer, host, api_body)).flatten()
    }

    #[test]
    fn a_session_id_from_elsewhere_or_nowhere_is_flagged() {
        let host = "shop.example";
        assert_eq!(flagged("JSESSIONID", None, host, false), Some(NO_REFERER));
        assert_eq!(flagged("phpsessid", Some("https://attacker.test/x"), host, false), Some(FOREIGN_REFERER));
        // A host that only starts or ends like ours is another site.
        assert_eq!(
            flagged("phpsessid", Some("https://shop.example.attacker.test/"), host, false),
            Some(FOREIGN_REFERER)
        );
        assert_eq!(flagged("phpsessid", Some("https://evilshop.example/"), host, false), Some(FOREIGN_REFERER));
        assert_eq!(
            flagged("phpsessid", Some("http://shop.example@attacker.test/"), host, false),
            Some(FOREIGN_REFERER)
        );
        assert_eq!(flagged("ASPSESSIONIDQSCTRTBA", Some("https://attacker.test/"), host, true), Some(FOREIGN_REFERER));
        assert_eq!(flagged("laravel_session", None, host, false), Some(NO_REFERER));
        // Without a path after the host, the host still counts.
        assert_eq!(flagged("cfid", Some("http://attacker.test"), host, false), Some(FOREIGN_REFERER));
    }

    #[test]
    fn the_sites_own_pages_and_other_arguments_pass() {
        let host = "shop.example";
        assert_eq!(flagged("jsessionid", Some("https://shop.example/cart"), host, false), None);
        assert_eq!(flagged("jsessionid", Some("https://WWW.Shop.Example/"), host, false), None);
        assert_eq!(flagged("jsessionid", Some("http://shop.example:8080/"), "shop.example:8080", false), None);
        assert_eq!(flagged("jsessionid", Some("https://shop.example:8443/login"), host, false), None);
        assert_eq!(flagged("session", None, host, false), None);
        assert_eq!(flagged("jsessionid2", Some("https://attacker.test/"), host, false), None);
        // An API client's JSON with no Referer: no link or form sent it.
        assert_eq!(flagged("session_id", None, host, true), None);
        // A Referer that names no web site: nothing to compare.
        assert_eq!(flagged("jsessionid", Some("android-app://com.example/"), host, false), None);
    }
}
