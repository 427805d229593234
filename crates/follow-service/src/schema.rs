//! The `follows` table, as the migrations under `migrations/follow-service/` make it.

diesel::table! {
    follows (follower_id, followee_id) {
        follower_id -> BigInt,
        followee_id -> BigInt,
        created_at -> BigInt,
    }
}
