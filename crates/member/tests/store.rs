//! The member store on both backends: uniqueness among active members, withdrawal, and the
//! all-or-nothing pairing of a change with its outbox row.
#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected error; clippy's test exemption does not reach helper functions"
)]

mod common;

use common::{Backend, database, unique_id};
use events::Outbox;
use member::domain::{Email, Nickname};
use member::store::{Conflict, Identity, MemberStore, WriteError};
use sea_orm::{ConnectionTrait, DatabaseConnection};

const BACKENDS: [Backend; 2] = [Backend::MariaDb, Backend::Sqlite];

fn nick(text: &str) -> Nickname {
    Nickname::parse(text).unwrap()
}

async fn outbox_count(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn an_active_nickname_cannot_be_registered_twice() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db.clone(), Outbox::default());
        store
            .register(Identity::Kakao(unique_id()), &nick("같은이름"))
            .await
            .unwrap();
        let second = store
            .register(Identity::Kakao(unique_id()), &nick("같은이름"))
            .await;
        assert!(
            matches!(second, Err(WriteError::Conflict(Conflict::Nickname))),
            "{backend:?}: {second:?}"
        );
        assert_eq!(outbox_count(&db).await, 1, "{backend:?}");
    }
}

#[tokio::test]
async fn a_provider_identity_cannot_be_registered_twice() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db, Outbox::default());
        let id = unique_id();
        store
            .register(Identity::Kakao(id), &nick("first"))
            .await
            .unwrap();
        let again = store.register(Identity::Kakao(id), &nick("second")).await;
        assert!(
            matches!(again, Err(WriteError::Conflict(Conflict::Identity))),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_email_cannot_be_registered_twice() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db, Outbox::default());
        let local = || Identity::Local {
            email: Email::parse("same@example.com").unwrap(),
            password_hash: "x".into(),
        };
        store.register(local(), &nick("first")).await.unwrap();
        let again = store.register(local(), &nick("second")).await;
        assert!(
            matches!(again, Err(WriteError::Conflict(Conflict::Email))),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn withdrawal_frees_the_nickname_for_someone_else() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db, Outbox::default());
        let first = store
            .register(Identity::Kakao(unique_id()), &nick("떠날사람"))
            .await
            .unwrap();
        assert!(store.withdraw(first.member_id).await.unwrap());
        assert!(
            !store.withdraw(first.member_id).await.unwrap(),
            "{backend:?}"
        );
        assert!(store.nickname_free(&nick("떠날사람")).await.unwrap());
        let second = store
            .register(Identity::Kakao(unique_id()), &nick("떠날사람"))
            .await;
        assert!(second.is_ok(), "{backend:?}: {second:?}");
        assert!(store.find_active(first.member_id).await.unwrap().is_none());
        assert_eq!(
            store
                .find_any(first.member_id)
                .await
                .unwrap()
                .unwrap()
                .nickname,
            "떠날사람"
        );
    }
}

#[tokio::test]
async fn a_rename_to_a_taken_nickname_writes_neither_the_change_nor_an_event() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db.clone(), Outbox::default());
        let a = store
            .register(Identity::Kakao(unique_id()), &nick("alpha"))
            .await
            .unwrap();
        store
            .register(Identity::Kakao(unique_id()), &nick("beta"))
            .await
            .unwrap();
        let result = store.change_nickname(a.member_id, &nick("beta")).await;
        assert!(
            matches!(result, Err(WriteError::Conflict(Conflict::Nickname))),
            "{backend:?}"
        );
        assert_eq!(
            store
                .find_active(a.member_id)
                .await
                .unwrap()
                .unwrap()
                .nickname,
            "alpha"
        );
        assert_eq!(outbox_count(&db).await, 2, "{backend:?}");
    }
}

#[tokio::test]
async fn a_change_whose_event_cannot_be_written_is_rolled_back() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db.clone(), Outbox::default());
        let a = store
            .register(Identity::Kakao(unique_id()), &nick("alpha"))
            .await
            .unwrap();
        db.execute_unprepared("DROP TABLE outbox").await.unwrap();
        let renamed = store.change_nickname(a.member_id, &nick("gamma")).await;
        assert!(matches!(renamed, Err(WriteError::Store(_))), "{backend:?}");
        let withdrawn = store.withdraw(a.member_id).await;
        assert!(withdrawn.is_err(), "{backend:?}");
        let row = store.find_active(a.member_id).await.unwrap().unwrap();
        assert_eq!(row.nickname, "alpha", "{backend:?}");
        let registered = store
            .register(Identity::Kakao(unique_id()), &nick("delta"))
            .await;
        assert!(registered.is_err(), "{backend:?}");
        assert!(
            store.nickname_free(&nick("delta")).await.unwrap(),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn nicknames_of_several_ids_include_withdrawn_members_and_skip_unknown_ones() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db, Outbox::default());
        let a = store
            .register(Identity::Kakao(unique_id()), &nick("alpha"))
            .await
            .unwrap();
        let b = store
            .register(Identity::Google("sub".into()), &nick("beta"))
            .await
            .unwrap();
        store.withdraw(b.member_id).await.unwrap();
        let mut found = store
            .nicknames(&[a.member_id, b.member_id, -1])
            .await
            .unwrap();
        found.sort_unstable();
        assert_eq!(
            found,
            vec![
                (a.member_id, "alpha".to_owned()),
                (b.member_id, "beta".to_owned())
            ],
            "{backend:?}"
        );
        assert!(store.nicknames(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn reactivation_restores_a_withdrawn_member_with_a_new_nickname_once() {
    for backend in BACKENDS {
        let (db, _dir) = database(backend).await;
        let store = MemberStore::new(db, Outbox::default());
        let a = store
            .register(Identity::Kakao(unique_id()), &nick("alpha"))
            .await
            .unwrap();
        store.withdraw(a.member_id).await.unwrap();
        let back = store
            .reactivate(a.member_id, &nick("alpha2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.nickname, "alpha2");
        assert!(!back.is_deleted);
        assert_eq!(back.created_date, a.created_date, "{backend:?}");
        assert!(
            store
                .reactivate(a.member_id, &nick("alpha3"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
