//! The tables of message-service, as the migrations under `migrations/message-service/` make them.

diesel::table! {
    messages (id) {
        id -> BigInt,
        author_id -> BigInt,
        text -> Text,
        pub_date -> BigInt,
        flagged -> Bool,
        idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    sim_latest (id) {
        id -> Integer,
        value -> BigInt,
        recorded_at -> BigInt,
    }
}

diesel::table! {
    /// Each author's newest unflagged message; kept by triggers on `messages`.
    author_newest (author_id) {
        author_id -> BigInt,
        pub_date -> BigInt,
        id -> BigInt,
    }
}
