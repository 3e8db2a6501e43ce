//! Deny-by-default network placement shared by the services' admin APIs.

use std::net::SocketAddr;

/// Is a request from `peer` allowed on an admin API? Admin APIs answer only on loopback: reach
/// them from elsewhere through an SSH tunnel or a reverse proxy on the same host. A request whose
/// peer is unknown (in-process tests that bypass the socket) is allowed.
pub fn admin_peer_allowed(peer: Option<SocketAddr>) -> bool {
    peer.is_none_or(|p| p.ip().is_loopback())
}

/// The sentence a refused peer gets.
pub const ADMIN_LOOPBACK_ONLY: &str = "the admin API answers only on loopback (127.0.0.1 or ::1); reach it through an SSH tunnel or a reverse proxy on the same host";

/// The axum middleware every admin router uses: a request from a peer that is not loopback gets
/// 403 with [`ADMIN_LOOPBACK_ONLY`].
pub async fn loopback_only(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !admin_peer_allowed(peer) {
        return (axum::http::StatusCode::FORBIDDEN, ADMIN_LOOPBACK_ONLY).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(admin_peer_allowed("127.0.0.1:5".parse().ok()));
        assert!(admin_peer_allowed("127.9.9.9:5".parse().ok()));
        assert!(admin_peer_allowed("[::1]:5".parse().ok()));
        assert!(admin_peer_allowed(None));
        assert!(!admin_peer_allowed("10.0.0.1:5".parse().ok()));
        assert!(!admin_peer_allowed("[2001:db8::1]:5".parse().ok()));
    }
}
