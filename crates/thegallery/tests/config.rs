//! A table of good and bad environments, each with the parsed values or the complete list of
//! problems.

#![expect(
    clippy::unwrap_used,
    reason = "Test helpers fail loudly; clippy's test exemption does not reach helper functions."
)]

use std::io::Write;

use platform::ExposeSecret;
use platform::config::{DatabaseConfig, StorageConfig};

fn problems<T: std::fmt::Debug>(result: Result<T, platform::config::ConfigError>) -> Vec<String> {
    result
        .unwrap_err()
        .variables()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

struct Keys {
    private: String,
    public: String,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let key = platform::auth::SigningKey::generate().unwrap();
        Keys {
            private: key.to_pem().unwrap(),
            public: key.public_pem().unwrap(),
        }
    })
}

/// `pairs` plus valid token keys, which every service requires.
fn with_keys<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("JWT_PRIVATE_KEY", keys().private.as_str()),
        ("JWT_PUBLIC_KEYS", keys().public.as_str()),
    ];
    all.extend_from_slice(pairs);
    all
}

const MEMBER_OK: [(&str, &str); 6] = [
    ("MYSQL_SERVER", "mysql-svc:3306"),
    ("MYSQL_USER", "member"),
    ("MYSQL_PASSWORD", "pw"),
    ("REDIS_HOST", "redis-svc"),
    ("REDIS_PASSWORD", "rpw"),
    ("KAFKA_SERVER", "kafka-0:9092, kafka-1:9092"),
];

#[test]
fn member_reads_mysql_redis_and_kafka_with_defaults_for_the_rest() {
    let config = member::Config::from_env(&with_keys(&MEMBER_OK)).unwrap();
    assert_eq!(config.service.http.port, 8001);
    assert_eq!(config.service.http.bind_addr.to_string(), "0.0.0.0");
    let DatabaseConfig::MySql {
        server,
        user,
        password,
        database,
    } = config.service.database
    else {
        panic!("expected MySQL")
    };
    assert_eq!(
        (server.to_string(), user.as_str(), database.as_str()),
        ("mysql-svc:3306".to_owned(), "member", "member")
    );
    assert_eq!(password.expose_secret(), "pw");
    let redis = config.redis.unwrap();
    assert_eq!((redis.host.as_str(), redis.port), ("redis-svc", 6379));
    let kafka = config.service.kafka.unwrap();
    assert_eq!(kafka.bootstrap.to_string(), "kafka-0:9092,kafka-1:9092");
    assert_eq!((kafka.partitions, kafka.replication), (3, 1));
}

#[test]
fn member_with_nothing_set_lists_every_missing_variable_at_once() {
    assert_eq!(
        problems(member::Config::from_env(&[])),
        [
            "MYSQL_SERVER",
            "MYSQL_USER",
            "MYSQL_PASSWORD",
            "KAFKA_SERVER",
            "REDIS_HOST",
            "JWT_PRIVATE_KEY"
        ]
    );
}

#[test]
fn member_with_several_invalid_values_lists_each_of_them() {
    let mut env = MEMBER_OK.to_vec();
    env.extend([
        ("PORT", "eighty"),
        ("BIND_ADDR", "localhost"),
        ("MYSQL_SERVER", "mysql-svc"),
        ("REDIS_PORT", "70000"),
        ("KAFKA_SERVER", "kafka"),
        ("KAFKA_TOPIC_PARTITIONS", "0"),
    ]);
    assert_eq!(
        problems(member::Config::from_env(&with_keys(&env))),
        [
            "BIND_ADDR",
            "PORT",
            "MYSQL_SERVER",
            "KAFKA_SERVER",
            "KAFKA_TOPIC_PARTITIONS",
            "REDIS_PORT"
        ]
    );
}

#[test]
fn a_database_url_overrides_the_mysql_variables() {
    let env = [
        ("DATABASE_URL", "sqlite://data/member.db"),
        ("REDIS_HOST", "r"),
        ("KAFKA_SERVER", "k:9092"),
    ];
    let config = member::Config::from_env(&with_keys(&env)).unwrap();
    assert!(
        matches!(config.service.database, DatabaseConfig::Sqlite { path } if path.ends_with("member.db"))
    );
}

#[test]
fn a_database_url_with_an_unknown_scheme_is_a_problem() {
    let env = [
        ("DATABASE_URL", "postgres://u:p@h/db"),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
    ];
    assert_eq!(
        problems(gallery::Config::from_env(&with_keys(&env))),
        ["DATABASE_URL"]
    );
}

#[test]
fn a_password_can_come_from_a_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "from-a-file").unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let env = [
        ("MYSQL_SERVER", "db:3306"),
        ("MYSQL_USER", "gallery"),
        ("MYSQL_PASSWORD_FILE", path.as_str()),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
    ];
    let config = gallery::Config::from_env(&with_keys(&env)).unwrap();
    let DatabaseConfig::MySql { password, .. } = config.service.database else {
        panic!("expected MySQL")
    };
    assert_eq!(password.expose_secret(), "from-a-file");
}

#[test]
fn a_password_set_both_directly_and_by_file_is_a_problem() {
    let env = [
        ("MYSQL_SERVER", "db:3306"),
        ("MYSQL_USER", "gallery"),
        ("MYSQL_PASSWORD", "a"),
        ("MYSQL_PASSWORD_FILE", "/nonexistent"),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
    ];
    assert_eq!(
        problems(gallery::Config::from_env(&with_keys(&env))),
        ["MYSQL_PASSWORD"]
    );
}

#[test]
fn gateway_defaults_its_upstreams_to_the_cluster_service_names() {
    let pem = platform::auth::SigningKey::generate()
        .unwrap()
        .public_pem()
        .unwrap();
    let env = [
        ("REDIS_HOST", "redis-svc"),
        ("JWT_PUBLIC_KEYS", pem.as_str()),
    ];
    let config = gateway::Config::from_env(&with_keys(&env)).unwrap();
    assert_eq!(config.http.port, 8000);
    assert_eq!(config.member.to_string(), "member-svc:8001");
    assert_eq!(config.gallery.to_string(), "gallery-svc:8002");
    assert_eq!(config.post.to_string(), "post-svc:8003");
}

#[test]
fn gateway_rejects_an_upstream_without_a_port_and_a_missing_redis() {
    assert_eq!(
        problems(gateway::Config::from_env(&[(
            "MEMBER_SERVER",
            "member-svc"
        )])),
        ["REDIS_HOST", "MEMBER_SERVER", "JWT_PUBLIC_KEYS"]
    );
}

#[test]
fn gallery_and_post_require_the_redis_their_sessions_are_in() {
    let env = [
        ("DATABASE_URL", "sqlite:///tmp/svc.db"),
        ("KAFKA_SERVER", "k:9092"),
    ];
    assert_eq!(
        problems(gallery::Config::from_env(&with_keys(&env))),
        ["REDIS_HOST"]
    );
    assert_eq!(
        problems(post::Config::from_env(&with_keys(&env))),
        ["REDIS_HOST"]
    );
}

#[test]
fn post_stores_images_in_a_directory_by_default() {
    let env = [
        ("DATABASE_URL", "sqlite:///tmp/post.db"),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
    ];
    let config = post::Config::from_env(&with_keys(&env)).unwrap();
    assert!(matches!(config.storage, StorageConfig::Local { root } if root.ends_with("images")));
}

#[test]
fn post_with_an_s3_bucket_requires_both_keys() {
    let env = [
        ("DATABASE_URL", "sqlite:///tmp/post.db"),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
        ("STORAGE_URL", "s3://gallery-images"),
    ];
    assert_eq!(
        problems(post::Config::from_env(&with_keys(&env))),
        ["S3_ACCESS_KEY", "S3_SECRET_KEY"]
    );
}

#[test]
fn post_rejects_an_unknown_storage_scheme() {
    let env = [
        ("DATABASE_URL", "sqlite:///tmp/post.db"),
        ("KAFKA_SERVER", "k:9092"),
        ("REDIS_HOST", "r"),
        ("STORAGE_URL", "ftp://images"),
    ];
    assert_eq!(
        problems(post::Config::from_env(&with_keys(&env))),
        ["STORAGE_URL"]
    );
}

#[test]
fn standalone_listens_on_loopback_port_8000_with_data_in_dot_data() {
    let config = thegallery::standalone::Config::from_env(&[]).unwrap();
    assert_eq!(config.http.addr().to_string(), "127.0.0.1:8000");
    assert_eq!(config.data_dir, std::path::PathBuf::from("./data"));
}

#[test]
fn standalone_gives_its_time_zone_and_public_base_to_every_service() {
    let env = [
        ("APP_TIMEZONE", "Europe/Paris"),
        ("PUBLIC_BASE_URL", "https://gallery.example"),
    ];
    let config = thegallery::standalone::Config::from_env(&env).unwrap();
    let key = platform::auth::SigningKey::generate().unwrap();
    let gallery = &config.presentation;
    assert_eq!(gallery.timezone, chrono_tz::Europe::Paris);
    let origin = platform::http::RequestOrigin::default();
    assert_eq!(
        gallery.public_base_url.join(&origin, "/x.png"),
        "https://gallery.example/x.png"
    );
    assert_eq!(config.post_settings.timezone, chrono_tz::Europe::Paris);
    assert_eq!(config.member(key).auth.timezone, chrono_tz::Europe::Paris);
}

#[test]
fn standalone_reports_a_bad_time_zone_once() {
    let problems = problems(thegallery::standalone::Config::from_env(&[(
        "APP_TIMEZONE",
        "Mars/Olympus",
    )]));
    assert_eq!(problems, ["APP_TIMEZONE"]);
}

#[test]
fn debug_output_of_a_configuration_never_shows_a_secret() {
    let config = member::Config::from_env(&with_keys(&MEMBER_OK)).unwrap();
    let printed = format!("{config:#?}");
    assert!(!printed.contains("\"pw\""), "{printed}");
    assert!(!printed.contains("rpw"), "{printed}");
    assert!(printed.contains("REDACTED"), "{printed}");
}
