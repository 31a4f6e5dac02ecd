//! A fault-injecting HTTP proxy in front of a test server (`testing` only):
//! it forwards each request on a fresh upstream connection and can answer
//! 500 to every Nth request, delay every answer, or stop (refuse and cut
//! every connection) and start again on the same port, by hand or after
//! the Nth request that matches a pattern ("in the middle of the uploads").
//!
//! It speaks just enough HTTP/1.1 for a client's requests: a head, then a
//! `Content-Length` body. Every answer carries `Connection: close`, so the
//! client never reuses a connection the proxy is about to drop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the traffic; changed while it runs.
#[derive(Debug, Default)]
struct Faults {
    /// Answer 500 to every Nth request (0: never).
    fail_every: u64,
    /// Wait this long before forwarding each answer.
    delay: Duration,
    /// Stop after the Nth request whose request line contains the text.
    stop_after: Option<(String, u64)>,
}

#[derive(Debug, Default)]
struct Shared {
    faults: Mutex<Faults>,
    requests: AtomicU64,
    failed: AtomicU64,
    matched: AtomicU64,
    stopped: AtomicBool,
    /// Open client connections, cut when the proxy stops.
    open: Mutex<Vec<TcpStream>>,
}

/// The proxy; stopped on drop.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port in front of `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = FaultProxy { addr, upstream, shared: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers 500 to every Nth request from now on (0: none).
    pub fn fail_every(&self, n: u64) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).fail_every = n;
    }

    /// Delays every answer by `delay` from now on.
    pub fn delay(&self, delay: Duration) {
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).delay = delay;
    }

    /// Stops by itself after the `n`th request (from now on) whose request
    /// line contains `text` (`"PUT "`, `"/data/"`): that request is cut.
    pub fn stop_after(&self, text: &str, n: u64) {
        self.shared.matched.store(0, Ordering::SeqCst);
        self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()).stop_after = Some((text.to_string(), n));
    }

    /// Requests seen and 500s sent so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::SeqCst)
    }

    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::SeqCst)
    }

    /// Refuses new connections and cuts the open ones.
    pub fn stop(&self) {
        stop(&self.shared);
    }

    /// Listens again on the same port, with no faults.
    pub fn restart(&self) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = Faults::default();
        // The old listener thread notices `stopped` and lets go of the port.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if tries < 200 => {
                    let _ = e;
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => panic!("the proxy cannot listen on {} again: {e}", self.addr),
            }
        };
        self.shared.stopped.store(false, Ordering::SeqCst);
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking listener");
        let shared = Arc::clone(&self.shared);
        let upstream = self.upstream;
        std::thread::spawn(move || {
            while !shared.stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(copy) = client.try_clone() {
                            shared.open.lock().unwrap_or_else(|p| p.into_inner()).push(copy);
                        }
                        let shared = Arc::clone(&shared);
                        std::thread::spawn(move || {
                            let _ = handle(client, upstream, &shared);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // Dropping the listener frees the port.
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        stop(&self.shared);
    }
}

fn stop(shared: &Shared) {
    shared.stopped.store(true, Ordering::SeqCst);
    for stream in shared.open.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Serves one client connection.
fn handle(client: TcpStream, upstream: SocketAddr, shared: &Shared) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    // One request a connection: every answer says `Connection: close`.
    let Some((line, headers, body)) = read_request(&mut reader)? else { return Ok(()) };
    if shared.stopped.load(Ordering::SeqCst) {
        return Ok(());
    }
    let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (fail_every, delay, stop_after) = {
        let f = shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        (f.fail_every, f.delay, f.stop_after.clone())
    };
    if let Some((text, after)) = stop_after
        && line.contains(&text)
        && shared.matched.fetch_add(1, Ordering::SeqCst) + 1 >= after
    {
        stop(shared);
        return Ok(());
    }
    if fail_every > 0 && n.is_multiple_of(fail_every) {
        shared.failed.fetch_add(1, Ordering::SeqCst);
        let body = "<Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>";
        write!(
            client,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(line.as_bytes())?;
    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("connection") {
            write!(up, "{name}: {value}\r\n")?;
        }
    }
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    if shared.stopped.load(Ordering::SeqCst) {
        return Ok(());
    }
    client.write_all(&with_connection_close(&answer))?;
    Ok(())
}

/// The request line (with its CRLF), the headers and the body; `None` at
/// the end of the connection.
#[allow(clippy::type_complexity)]
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<(String, Vec<(String, String)>, Vec<u8>)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().map_err(|_| io::Error::other("bad Content-Length"))?;
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(io::Error::other("the test proxy does not take chunked requests"));
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some((line, headers, body)))
}

/// The answer with its `Connection` header replaced by `close`.
fn with_connection_close(answer: &[u8]) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return answer.to_vec() };
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    bytes
}
