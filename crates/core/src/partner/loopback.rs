//! The loopback port Microsoft sends the browser back to after a partner sign-in.
#![warn(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::problem::{Problem, ProblemKind};

/// How long one connection to the loopback port may take to send its request: a
/// browser's pre-connect or a port scanner may open one and send nothing.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

pub(super) fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Serves the loopback port, each connection on its own and for at most
/// [`CONNECTION_WAIT`], until a request carries `state`; returns that request's query.
/// A silent connection (a browser's pre-connect, a port scanner) or a request for
/// another sign-in cannot hold up the real redirect.
pub(super) async fn wait_for_redirect(
    listener: TcpListener,
    state: String,
) -> Result<String, Problem> {
    let state = Arc::new(state);
    // Dropping the set (once the redirect came) ends the connections still open.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _) = accepted.map_err(|e| Problem::new(ProblemKind::Unreachable, e.to_string()))?;
                let state = state.clone();
                connections.spawn(async move {
                    tokio::time::timeout(CONNECTION_WAIT, answer_redirect(socket, &state)).await.ok().flatten()
                });
            }
            Some(done) = connections.join_next() => {
                if let Ok(Some(query)) = done {
                    return Ok(query);
                }
            }
        }
    }
}

/// Reads one HTTP request and answers it; returns its query if it carries `state`,
/// checked before anything else in it is looked at.
async fn answer_redirect(mut socket: TcpStream, state: &str) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut read = 0;
    while read < buf.len() {
        match socket.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..read]);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    let query = target.split_once('?').map(|(_, q)| q.to_string());
    let (status, text, found) = match query {
        // Browsers also ask for /favicon.ico: only the redirect carries a query.
        None => ("404 Not Found", "", None),
        Some(q) if query_param(&q, "state").as_deref() == Some(state) => (
            "200 OK",
            "Sign-in received. You can close this tab and return to Rulewatch.",
            Some(q),
        ),
        Some(_) => (
            "400 Bad Request",
            "This answer does not belong to the sign-in Rulewatch is waiting for, and was ignored. \
             If you did not start it, close this tab.",
            None,
        ),
    };
    let page = if text.is_empty() {
        String::new()
    } else {
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Rulewatch</title></head><body><p>{text}</p></body></html>"
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    found
}
