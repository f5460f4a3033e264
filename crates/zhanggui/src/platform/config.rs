//! Configuration: defaults, then an optional TOML file, then `ZG_*` environment variables.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/zhanggui.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const LIVE_WECHAT_API: &str = "https://api.weixin.qq.com";

/// Sandbox mode: the demo merchant and new accounts talk to the built-in WeChat emulator.
/// Live mode: new accounts default to the real WeChat API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Sandbox,
    Live,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    /// The URL WeChat and browsers reach us at, without a trailing slash.
    pub public_url: String,
    pub mode: Mode,
    /// Background job workers in this instance.
    pub workers: usize,
    pub max_db_connections: u32,
    /// Where the product calls the real WeChat API (overridable for tests).
    pub wechat_api_base: String,
    /// Where sandbox accounts call the emulated WeChat API.
    pub sandbox_api_base: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid value for {key}: {value:?} ({reason})")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    mode: Option<Mode>,
    workers: Option<usize>,
    max_db_connections: Option<u32>,
    wechat_api_base: Option<String>,
    sandbox_api_base: Option<String>,
}

impl Config {
    /// Loads `path` if given (or `zhanggui.toml` if it exists), then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_listen(path, None)
    }

    /// As [`Config::load`], with a `--listen` flag that outranks `ZG_LISTEN` (so the URLs
    /// derived from the listen address follow it).
    pub fn load_with_listen(
        path: Option<&Path>,
        listen: Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) => read_file(p)?,
            None if Path::new("zhanggui.toml").exists() => read_file(Path::new("zhanggui.toml"))?,
            None => FileConfig::default(),
        };
        Self::from_parts(file, |k| match (k, &listen) {
            ("ZG_LISTEN", Some(l)) => Some(l.clone()),
            _ => std::env::var(k).ok(),
        })
    }

    fn from_parts(
        file: FileConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let database_url = env("ZG_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let listen_raw = env("ZG_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| ConfigError::Invalid {
            key: "ZG_LISTEN",
            value: listen_raw.clone(),
            reason: "expected host:port, e.g. 127.0.0.1:8080",
        })?;
        let public_url = env("ZG_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "ZG_PUBLIC_URL",
                value: public_url,
                reason: "expected an http:// or https:// URL",
            });
        }
        let mode = match env("ZG_MODE") {
            Some(m) => parse_mode(&m)?,
            None => file.mode.unwrap_or(Mode::Sandbox),
        };
        let workers = match env("ZG_WORKERS") {
            Some(w) => parse_number("ZG_WORKERS", &w)?,
            None => file.workers.unwrap_or(2),
        };
        let max_db_connections = match env("ZG_MAX_DB_CONNECTIONS") {
            Some(w) => parse_number("ZG_MAX_DB_CONNECTIONS", &w)?,
            None => file.max_db_connections.unwrap_or(10),
        };
        let wechat_api_base = env("ZG_WECHAT_API_BASE")
            .or(file.wechat_api_base)
            .unwrap_or_else(|| LIVE_WECHAT_API.to_string());
        let sandbox_api_base = env("ZG_SANDBOX_API_BASE")
            .or(file.sandbox_api_base)
            .unwrap_or_else(|| format!("http://{}/sandbox", loopback_of(listen)));
        Ok(Config {
            database_url,
            listen,
            public_url,
            mode,
            workers,
            max_db_connections,
            wechat_api_base: wechat_api_base.trim_end_matches('/').to_string(),
            sandbox_api_base: sandbox_api_base.trim_end_matches('/').to_string(),
        })
    }

    /// Whether session cookies must carry `Secure`.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The in-process sandbox is called over loopback even when listening on all interfaces.
fn loopback_of(listen: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.display().to_string(),
        source,
    })
}

fn parse_mode(value: &str) -> Result<Mode, ConfigError> {
    match value {
        "sandbox" => Ok(Mode::Sandbox),
        "live" => Ok(Mode::Live),
        _ => Err(ConfigError::Invalid {
            key: "ZG_MODE",
            value: value.to_string(),
            reason: "expected sandbox or live",
        }),
    }
}

fn parse_number<T: std::str::FromStr>(key: &'static str, value: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: "expected a positive number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_are_a_local_sandbox_on_sqlite() {
        let c = Config::from_parts(FileConfig::default(), env_of(&[])).expect("config");
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.mode, Mode::Sandbox);
        assert_eq!(c.sandbox_api_base, "http://127.0.0.1:8080/sandbox");
    }

    #[test]
    fn environment_overrides_the_file() {
        let file: FileConfig =
            toml::from_str("listen = \"0.0.0.0:9000\"\npublic_url = \"https://a.example/\"")
                .expect("toml");
        let c = Config::from_parts(file, env_of(&[("ZG_LISTEN", "127.0.0.1:7000")])).expect("c");
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.public_url, "https://a.example");
        assert!(c.https());
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Config::from_parts(FileConfig::default(), env_of(&[("ZG_LISTEN", "nope")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("ZG_LISTEN"));
        let err = Config::from_parts(FileConfig::default(), env_of(&[("ZG_MODE", "prod")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("ZG_MODE"));
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        assert!(toml::from_str::<FileConfig>("databse_url = \"x\"").is_err());
    }
}
