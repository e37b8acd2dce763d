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
use member::store::{Conflict, Identity, Member, MemberStore, WriteError};
use sea_orm::ConnectionTrait;

const BACKENDS: [Backend; 2] = [Backend::MariaDb, Backend::Sqlite];

fn nick(text: &str) -> Nickname {
    Nickname::parse(text).unwrap()
}

/// A store on a fresh database of `backend`, and the directory that keeps a SQLite file alive.
async fn store_on(backend: Backend) -> (MemberStore, Option<tempfile::TempDir>) {
    let (db, dir) = database(backend).await;
    (MemberStore::new(db, Outbox::default()), dir)
}

/// Registers a member with a new Kakao id and this nickname.
async fn register_kakao(store: &MemberStore, nickname: &str) -> Result<Member, WriteError> {
    store
        .register(Identity::Kakao(unique_id()), &nick(nickname))
        .await
}

/// Registers `identity()` as `first`, then `identity()` again as `second`, and asserts that the
/// second is refused because `conflict` is taken.
async fn assert_second_refused(
    store: &MemberStore,
    backend: Backend,
    identity: impl Fn() -> Identity,
    [first, second]: [&str; 2],
    conflict: Conflict,
) {
    store.register(identity(), &nick(first)).await.unwrap();
    let again = store.register(identity(), &nick(second)).await;
    assert!(
        matches!(again, Err(WriteError::Conflict(taken)) if taken == conflict),
        "{backend:?}: {again:?}"
    );
}

/// The nickname of the active member `id`; panics when there is none.
async fn active_nickname(store: &MemberStore, id: i64) -> String {
    store.find_active(id).await.unwrap().unwrap().nickname
}

async fn outbox_count(store: &MemberStore) -> i64 {
    let db = store.db();
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
        let (store, _dir) = store_on(backend).await;
        let new_kakao_id = || Identity::Kakao(unique_id());
        let names = ["같은이름", "같은이름"];
        assert_second_refused(&store, backend, new_kakao_id, names, Conflict::Nickname).await;
        assert_eq!(outbox_count(&store).await, 1, "{backend:?}");
    }
}

#[tokio::test]
async fn a_provider_identity_cannot_be_registered_twice() {
    for backend in BACKENDS {
        let (store, _dir) = store_on(backend).await;
        let id = unique_id();
        let same_kakao_id = || Identity::Kakao(id);
        let names = ["first", "second"];
        assert_second_refused(&store, backend, same_kakao_id, names, Conflict::Identity).await;
    }
}

#[tokio::test]
async fn an_email_cannot_be_registered_twice() {
    for backend in BACKENDS {
        let (store, _dir) = store_on(backend).await;
        let local = || Identity::Local {
            email: Email::parse("same@example.com").unwrap(),
            password_hash: "x".into(),
        };
        let names = ["first", "second"];
        assert_second_refused(&store, backend, local, names, Conflict::Email).await;
    }
}

#[tokio::test]
async fn withdrawal_frees_the_nickname_for_someone_else() {
    for backend in BACKENDS {
        let (store, _dir) = store_on(backend).await;
        let first = register_kakao(&store, "떠날사람").await.unwrap();
        assert!(store.withdraw(first.member_id).await.unwrap());
        assert!(
            !store.withdraw(first.member_id).await.unwrap(),
            "{backend:?}"
        );
        assert!(store.nickname_free(&nick("떠날사람")).await.unwrap());
        let second = register_kakao(&store, "떠날사람").await;
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
        let (store, _dir) = store_on(backend).await;
        let a = register_kakao(&store, "alpha").await.unwrap();
        register_kakao(&store, "beta").await.unwrap();
        let result = store.change_nickname(a.member_id, &nick("beta")).await;
        assert!(
            matches!(result, Err(WriteError::Conflict(Conflict::Nickname))),
            "{backend:?}"
        );
        assert_eq!(active_nickname(&store, a.member_id).await, "alpha");
        assert_eq!(outbox_count(&store).await, 2, "{backend:?}");
    }
}

#[tokio::test]
async fn a_change_whose_event_cannot_be_written_is_rolled_back() {
    for backend in BACKENDS {
        let (store, _dir) = store_on(backend).await;
        let a = register_kakao(&store, "alpha").await.unwrap();
        store
            .db()
            .execute_unprepared("DROP TABLE outbox")
            .await
            .unwrap();
        let renamed = store.change_nickname(a.member_id, &nick("gamma")).await;
        assert!(matches!(renamed, Err(WriteError::Store(_))), "{backend:?}");
        let withdrawn = store.withdraw(a.member_id).await;
        assert!(withdrawn.is_err(), "{backend:?}");
        let nickname = active_nickname(&store, a.member_id).await;
        assert_eq!(nickname, "alpha", "{backend:?}");
        let registered = register_kakao(&store, "delta").await;
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
        let (store, _dir) = store_on(backend).await;
        let a = register_kakao(&store, "alpha").await.unwrap();
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
        let (store, _dir) = store_on(backend).await;
        let a = register_kakao(&store, "alpha").await.unwrap();
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
