//! follow-service's calls.

use super::*;

fn pair_path(Follow { follower, followee }: Follow) -> String {
    format!("/follows/{follower}/{followee}")
}

impl FollowClient {
    pub async fn follow(&self, rid: &str, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.0.empty(self.0.request(Method::PUT, &pair_path(pair), rid), Idempotent::Yes).await
    }

    pub async fn unfollow(&self, rid: &str, pair: Follow) -> Result<(), ClientError<FollowError>> {
        self.0.empty(self.0.request(Method::DELETE, &pair_path(pair), rid), Idempotent::Yes).await
    }

    pub async fn followees(
        &self,
        rid: &str,
        follower: UserId,
        limit: u32,
    ) -> Result<Vec<UserId>, ClientError<FollowError>> {
        let req =
            self.0.request(Method::GET, &format!("/follows/{follower}"), rid).query(&[("limit", limit)]);
        let f: Followees = self.0.json(req, Idempotent::Yes).await?;
        Ok(f.followees)
    }

    pub async fn is_following(&self, rid: &str, pair: Follow) -> Result<bool, ClientError<FollowError>> {
        let req = self.0.request(Method::GET, &pair_path(pair), rid);
        let f: Following = self.0.json(req, Idempotent::Yes).await?;
        Ok(f.following)
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<FollowError>> {
        let c: Count =
            self.0.json(self.0.request(Method::GET, "/follows/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }
}
