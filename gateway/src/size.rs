//! Sizes as users write them in flags and annotations: `64Mi`, `512Ki`, or
//! the nginx forms ingress-nginx users know (`8m`, `100k`, `1g`, binary
//! multiples too); a bare number is bytes.

/// Parses a size in bytes; the error says what form is expected.
pub fn parse(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size (expected e.g. 8m, 512Ki, 64Mi)"))?;
    let shift = match unit {
        "" => 0,
        "k" | "K" | "Ki" => 10,
        "m" | "M" | "Mi" => 20,
        "g" | "G" | "Gi" => 30,
        _ => return Err(format!("{s:?} has an unknown unit {unit:?} (use k, m, g, Ki, Mi or Gi)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn nginx_and_kubernetes_forms() {
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("100"), Ok(100));
        assert_eq!(parse("8m"), Ok(8 << 20));
        assert_eq!(parse("8M"), Ok(8 << 20));
        assert_eq!(parse("512Ki"), Ok(512 << 10));
        assert_eq!(parse(" 1g "), Ok(1 << 30));
        assert!(parse("8mb").unwrap_err().contains("unknown unit"));
        assert!(parse("-1").unwrap_err().contains("not a size"));
        assert!(parse("m").unwrap_err().contains("not a size"));
        assert!(parse("99999999999999999999g").is_err());
        assert!(parse("18446744073709551615g").unwrap_err().contains("too large"));
    }
}
