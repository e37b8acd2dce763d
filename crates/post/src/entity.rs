//! SeaORM entities of the post database. Times are UTC.

/// A frame of a gallery: one row of table `post` per frame.
pub mod post {
    use sea_orm::entity::prelude::*;

    /// One row of `post`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "post")]
    pub struct Model {
        /// Post id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The gallery it hangs in.
        pub gallery_id: i64,
        /// Title, 0–50 characters.
        pub title: String,
        /// Content, 0–500 characters.
        #[sea_orm(column_type = "Text")]
        pub content: String,
        /// Position; listings renumber it 1..N.
        pub orders: i64,
        /// Image key in object storage.
        pub image_key: String,
        /// Chosen music.
        pub music_id: Option<i64>,
        /// Whether the frame is shown.
        pub is_active: bool,
        /// Created (UTC).
        pub created_date: DateTime,
        /// Last modified (UTC).
        pub modified_date: DateTime,
    }

    /// No relations are navigated through SeaORM; joins are written in the store.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A comment on a post.
pub mod comment {
    use sea_orm::entity::prelude::*;

    /// One row of `comment`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "comment")]
    pub struct Model {
        /// Comment id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The post commented on.
        pub post_id: i64,
        /// Author.
        pub member_id: i64,
        /// Text, 1–100 characters.
        pub content: String,
        /// Created (UTC).
        pub created_date: DateTime,
        /// Last modified (UTC).
        pub modified_date: DateTime,
    }

    /// Joins are written in the store.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Music found on Spotify and YouTube, unique on (artist, title).
pub mod music {
    use sea_orm::entity::prelude::*;

    /// One row of `music`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "music")]
    pub struct Model {
        /// Music id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Track title.
        pub title: String,
        /// First artist.
        pub artist: String,
        /// YouTube video id.
        pub video_id: String,
        /// Cover image URL.
        #[sea_orm(column_type = "Text", nullable)]
        pub cover_url: Option<String>,
        /// Spotify's release date string.
        pub released_date: String,
    }

    /// Joins are written in the store.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which member owns which gallery, from `gallery.created` (checked by `PATCH /api/post/list/{galleryId}` and `POST /api/post/dummy`).
pub mod gallery_owner {
    use sea_orm::entity::prelude::*;

    /// One row of `gallery_owner`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "gallery_owner")]
    pub struct Model {
        /// Gallery id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub gallery_id: i64,
        /// Owner.
        pub member_id: i64,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Image keys to delete from storage once the transaction that orphaned them has committed.
pub mod image_trash {
    use sea_orm::entity::prelude::*;

    /// One row of `image_trash`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "image_trash")]
    pub struct Model {
        /// The orphaned key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub image_key: String,
    }

    /// None.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
