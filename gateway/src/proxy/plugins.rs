//! Answers plugins give themselves (`proxy_send_local_response`).

use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};

use super::body::ResponseBody;
use crate::wasm::host::LocalResponse;

/// The answer a plugin sent with `send_local_response`; invalid or pseudo
/// headers in it are left out.
pub fn local_answer(local: LocalResponse) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::local(local.body));
    *resp.status_mut() = StatusCode::from_u16(local.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in local.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
            && !name.starts_with(':')
        {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_answer_keeps_valid_headers_only() {
        let headers = vec![
            ("x-ok".to_string(), b"1".to_vec()),
            (":status".to_string(), b"200".to_vec()),
            ("bad name".to_string(), b"1".to_vec()),
        ];
        let resp = local_answer(LocalResponse { status: 418, headers, body: b"short".to_vec() });
        assert_eq!(resp.status(), 418);
        assert_eq!(resp.headers().len(), 1);
        assert_eq!(resp.headers()["x-ok"], "1");
    }
}
