//! For unit tests of the clients' error paths only: an HTTP peer on a loopback port that
//! answers each request with what `answer` gives for its path and query, and records
//! them. The real services are the test bed's (tests/testbed/).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the stand-in was asked, request targets in order.
pub(crate) type Asked = Arc<Mutex<Vec<String>>>;

/// Starts the stand-in; its address and what it is asked.
pub(crate) async fn serve(answer: fn(&str) -> (u16, String)) -> (SocketAddr, Asked) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("its address");
    let asked = Asked::default();
    let record = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let target = text.split(' ').nth(1).unwrap_or_default().to_string();
            let (status, body) = answer(&target);
            record.lock().expect("record").push(target);
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (address, asked)
}
