//! The `users` table, as the migrations under `migrations/user-service/` make it.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        pw_hash -> Text,
        pw_scheme -> Nullable<Text>,
        created_at -> BigInt,
        session_generation -> BigInt,
    }
}
