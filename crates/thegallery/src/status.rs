//! `thegallery events status`: the event backbone's state, from the cluster and the databases of
//! Kafka mode or from the standalone data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use events::status::{Group, Local, Status};
use events::{GALLERY_TOPIC, MEMBER_TOPIC};
use platform::config::{DatabaseConfig, Environment, KafkaConfig, Vars};

/// Who reads what: the consumer groups of gallery and post, as the services build them.
fn groups() -> Vec<Group> {
    [
        gallery::events::consumer_options(),
        post::reactions::consumer_options(),
    ]
    .into_iter()
    .map(|options| Group {
        name: options.group,
        topics: options.topics,
    })
    .collect()
}

/// The topics and the service whose outbox publishes each.
const PRODUCERS: [(&str, &str); 2] = [(MEMBER_TOPIC, "member"), (GALLERY_TOPIC, "gallery")];

/// Prints the status as tables, or as JSON with `json`.
#[expect(
    clippy::print_stdout,
    reason = "printing the status is this command's purpose"
)]
pub async fn print(json: bool, env: &dyn Environment) -> anyhow::Result<ExitCode> {
    let status = read(env).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{status}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the status the environment points at (Kafka when `KAFKA_SERVER` is set).
pub async fn read(env: &dyn Environment) -> anyhow::Result<Status> {
    let mut vars = Vars::new(env);
    let kafka = KafkaConfig::read_optional(&mut vars);
    let has_database = vars.raw("DATABASE_URL").is_some() || vars.raw("MYSQL_SERVER").is_some();
    let database = has_database
        .then(|| DatabaseConfig::read(&mut vars, "member"))
        .flatten();
    let data_dir = vars.or("DATA_DIR", PathBuf::from("./data"));
    let (kafka, database, data_dir) = vars.finish(|| Some((kafka, database, data_dir)))?;
    match kafka {
        Some(kafka) => {
            let outbox = match database {
                Some(config) => Some(platform::db::connect(&config).await?),
                None => None,
            };
            let produced = PRODUCERS.map(|(topic, _)| topic);
            Ok(events::status::kafka(&kafka, &groups(), &produced, outbox.as_ref()).await?)
        }
        None => Ok(events::status::local(&standalone(&data_dir).await?).await?),
    }
}

async fn standalone(data_dir: &Path) -> anyhow::Result<Local> {
    let open = |service: &str| {
        let path = data_dir.join(format!("{service}.db"));
        async move {
            anyhow::ensure!(
                path.exists(),
                "no standalone database at {} (is DATA_DIR right?)",
                path.display()
            );
            Ok(platform::db::connect(&DatabaseConfig::sqlite(path)).await?)
        }
    };
    let mut producers = Vec::new();
    for (topic, service) in PRODUCERS {
        producers.push((topic.to_owned(), open(service).await?));
    }
    let mut consumers = Vec::new();
    for group in groups() {
        let db = open(&group.name).await?;
        consumers.push((group, db));
    }
    Ok(Local {
        producers,
        consumers,
    })
}
