//! Runs each scenario once on MariaDB and once on SQLite: `both!(name);` defines the two tests
//! `mariadb::name` and `sqlite::name` from `async fn name(service: &Service)`.

/// Defines `mariadb::name` and `sqlite::name` tests for each named scenario.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod mariadb {
            $(
                #[tokio::test]
                async fn $name() {
                    let service = $crate::common::Service::mysql().await;
                    super::$name(&service).await;
                    service.finish().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let service = $crate::common::Service::sqlite().await;
                    super::$name(&service).await;
                    service.finish().await;
                }
            )*
        }
    };
}
