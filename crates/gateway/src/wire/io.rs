//! Socket helpers over `&TcpStream`, so one task can wait on the client and the upstream at once,
//! and the connection handed to hyper with the bytes already read in front of it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Room kept free in a read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Reads what is available (at least one byte, or 0 at end of stream) into `buf`.
pub(super) async fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match read_draining(stream, buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
    }
}

/// What can be read without waiting; `None` when nothing is there yet.
pub(super) fn read_now(stream: &TcpStream, buf: &mut BytesMut) -> Option<io::Result<usize>> {
    match read_draining(stream, buf) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        other => Some(other),
    }
}

/// One `recv`. A short read means the socket is drained, so its readiness is cleared in the same
/// step, under the event the read was made for (a newer event is never lost): the next wait then
/// sleeps at once instead of paying a `recv` that answers `EAGAIN` — one system call less per
/// request on each side. `try_read` does not do this; tokio's `AsyncRead` does.
fn read_draining(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Box<[u8]>> =
            std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let mut got = 0;
        let outcome = stream.try_io(tokio::io::Interest::READABLE, || {
            got = io::Read::read(&mut &*socket2::SockRef::from(stream), scratch)?;
            if got > 0 && got < scratch.len() {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        match outcome {
            Err(e) if got == 0 => Err(e),
            _ => {
                buf.extend_from_slice(&scratch[..got]);
                Ok(got)
            }
        }
    })
}

/// Writes all of `data`.
pub(super) async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match stream.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How a write towards an upstream ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sent {
    /// Everything was written.
    All,
    /// The upstream spoke (or closed) first: it answers without waiting for the rest.
    Answered,
}

/// Writes `data` to an upstream, stopping as soon as the upstream has something to say: a service
/// that answers early stops reading, and waiting for it to drain the body would hang.
pub(super) async fn write_until_answered(stream: &TcpStream, mut data: &[u8]) -> Sent {
    while !data.is_empty() {
        match stream.try_write(data) {
            Ok(n) if n > 0 => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::select! {
                    biased;
                    _ = stream.readable() => return Sent::Answered,
                    ready = stream.writable() => if ready.is_err() { return Sent::Answered },
                }
            }
            // A reset or closed upstream may still have left its answer in our receive buffer.
            _ => return Sent::Answered,
        }
    }
    Sent::All
}

/// A client connection with bytes already read from it in front, for hyper to continue on.
pub(super) struct Prefixed {
    prefix: Bytes,
    stream: TcpStream,
}

impl Prefixed {
    pub(super) fn new(prefix: Bytes, stream: TcpStream) -> Self {
        Self { prefix, stream }
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
