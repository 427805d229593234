//! message-service's calls.

use super::*;

impl MessageClient {
    /// Posts under `key`: sent again after an ambiguous failure, the service answers
    /// the message the first send stored instead of storing it twice.
    pub async fn post(
        &self,
        rid: &str,
        author_id: UserId,
        text: &MessageText,
        key: &IdempotencyKey,
    ) -> Result<Message, ClientError<MessageError>> {
        let body = NewMessage { author_id, text: text.clone(), idempotency_key: Some(key.clone()) };
        self.0.json(self.0.request(Method::POST, "/messages", rid).json(&body), Idempotent::Yes).await
    }

    pub async fn public(
        &self,
        rid: &str,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        self.0.json(self.0.request(Method::GET, "/messages", rid).query(&query(page)), Idempotent::Yes).await
    }

    pub async fn by_author(
        &self,
        rid: &str,
        author_id: UserId,
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        let path = format!("/messages/by-author/{author_id}");
        self.0.json(self.0.request(Method::GET, &path, rid).query(&query(page)), Idempotent::Yes).await
    }

    pub async fn by_authors(
        &self,
        rid: &str,
        author_ids: &[UserId],
        page: &PageQuery,
    ) -> Result<MessagePage, ClientError<MessageError>> {
        let body = AuthorsQuery { author_ids: author_ids.to_vec(), limit: page.limit, before: page.before };
        self.0
            .json(self.0.request(Method::POST, "/messages/by-authors", rid).json(&body), Idempotent::Yes)
            .await
    }

    pub async fn set_flag(
        &self,
        rid: &str,
        id: MessageId,
        flagged: bool,
    ) -> Result<(), ClientError<MessageError>> {
        let method = if flagged { Method::PUT } else { Method::DELETE };
        self.0.empty(self.0.request(method, &format!("/messages/{id}/flag"), rid), Idempotent::Yes).await
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<MessageError>> {
        let c: Count =
            self.0.json(self.0.request(Method::GET, "/messages/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }

    pub async fn latest(&self, rid: &str) -> Result<i64, ClientError<MessageError>> {
        let l: Latest = self.0.json(self.0.request(Method::GET, "/latest", rid), Idempotent::Yes).await?;
        Ok(l.latest)
    }

    /// Idempotent: storing the same value twice stores it once, and a copy that lands
    /// after a newer value changes nothing ([`SetLatest::recorded_at_us`]).
    pub async fn set_latest(&self, rid: &str, latest: SetLatest) -> Result<(), ClientError<MessageError>> {
        self.0.empty(self.0.request(Method::PUT, "/latest", rid).json(&latest), Idempotent::Yes).await
    }
}

fn query(page: &PageQuery) -> Vec<(&'static str, String)> {
    let mut q = Vec::with_capacity(2);
    if let Some(limit) = page.limit {
        q.push(("limit", limit.to_string()));
    }
    if let Some(before) = page.before {
        q.push(("before", before.to_string()));
    }
    q
}
