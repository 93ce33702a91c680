//! The plugin of the README's "your first plugin" guide: it answers one
//! path itself (and counts it) and tags every other request for the upstream.

use serde::Deserialize;
use wasmgress_sdk::metrics::Counter;
use wasmgress_sdk::{Decision, Plugin, Request};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The path answered by the plugin itself.
    path: String,
    greeting: String,
}

struct Hello {
    config: Config,
    greetings: Counter,
}

impl Plugin for Hello {
    type Config = Config;

    fn configure(config: Config) -> Result<Self, String> {
        Ok(Hello { config, greetings: Counter::new("greetings") })
    }

    fn on_request(&self, request: &mut Request) -> Decision {
        if request.path() == self.config.path {
            self.greetings.inc();
            let name = request.query_param("name").unwrap_or_else(|| "world".into());
            return Decision::respond(200).body(format!("{}, {name}!\n", self.config.greeting)).into();
        }
        request.headers.set("x-hello", request.ingress.clone());
        Decision::Continue
    }
}

wasmgress_sdk::export_plugin!(Hello);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgress_sdk::testing;

    fn hello() -> Hello {
        testing::configure(r#"{"path": "/hello", "greeting": "Hello"}"#).unwrap()
    }

    #[test]
    fn answers_its_path_itself() {
        let (decision, _) = testing::request(&hello(), testing::get("/hello?name=Ada").build());
        assert_eq!(decision, Decision::respond(200).body("Hello, Ada!\n").into());
        assert_eq!(testing::metric("greetings"), Some(1));
    }

    #[test]
    fn tags_other_requests() {
        let (decision, request) = testing::request(&hello(), testing::get("/shop").ingress("shop/front").build());
        assert_eq!(decision, Decision::Continue);
        assert_eq!(request.headers.get("x-hello"), Some("shop/front"));
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_name() {
        let err = testing::configure::<Hello>(r#"{"path": "/", "greeting": "Hi", "colour": "red"}"#).err().unwrap();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }
}
