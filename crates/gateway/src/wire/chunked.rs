//! Finds where a chunked body ends while it is relayed unchanged (RFC 9112 §7.1), so the upstream
//! connection can be reused and the client connection kept open.

/// The body is not valid chunked coding; the relay stops and both connections close.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadChunk;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    FinalLf,
    Done,
}

/// The position inside a chunked body.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    size: u64,
    digits: u8,
}

impl Chunked {
    /// At the start of a body.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Size,
            size: 0,
            digits: 0,
        }
    }

    /// Scans the next bytes of the body: `Some(n)` when the body ends after the first `n` of them.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, BadChunk> {
        let mut i = 0;
        while i < bytes.len() {
            if self.state == State::Data {
                let take = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - i);
                i += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            self.state = self.step(bytes[i])?;
            i += 1;
            if self.state == State::Done {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    fn step(&mut self, byte: u8) -> Result<State, BadChunk> {
        use State as S;
        Ok(match (self.state, byte) {
            (S::Size, b) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > 15 {
                    return Err(BadChunk);
                }
                let digit = (b as char).to_digit(16).ok_or(BadChunk)?;
                self.size = self.size * 16 + u64::from(digit);
                S::Size
            }
            (S::Size, b';' | b' ' | b'\t') if self.digits > 0 => S::Extension,
            (S::Size, b'\r') if self.digits > 0 => S::SizeLf,
            (S::Extension, b'\r') => S::SizeLf,
            (S::Extension, b'\n') => return Err(BadChunk),
            (S::Extension, _) => S::Extension,
            (S::SizeLf, b'\n') if self.size == 0 => S::TrailerStart,
            (S::SizeLf, b'\n') => S::Data,
            (S::DataCr, b'\r') => S::DataLf,
            (S::DataLf, b'\n') => {
                self.digits = 0;
                S::Size
            }
            (S::TrailerStart, b'\r') => S::FinalLf,
            (S::TrailerStart | S::Trailer, b'\n') => S::TrailerStart,
            (S::TrailerStart | S::Trailer, _) => S::Trailer,
            (S::FinalLf, b'\n') => S::Done,
            _ => return Err(BadChunk),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"5;name=value\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\n";

    #[test]
    fn a_whole_body_ends_exactly_after_its_last_empty_line() {
        let mut with_more = BODY.to_vec();
        with_more.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(Chunked::new().scan(&with_more), Ok(Some(BODY.len())));
    }

    #[test]
    fn a_body_fed_one_byte_at_a_time_ends_at_the_same_place() {
        let mut chunked = Chunked::new();
        let ends: Vec<usize> = BODY
            .iter()
            .enumerate()
            .filter_map(|(i, b)| chunked.scan(&[*b]).unwrap().map(|_| i))
            .collect();
        assert_eq!(ends, [BODY.len() - 1]);
    }

    #[test]
    fn a_size_line_that_is_not_hexadecimal_is_refused() {
        assert_eq!(Chunked::new().scan(b"zz\r\n"), Err(BadChunk));
    }

    #[test]
    fn a_chunk_not_followed_by_its_line_end_is_refused() {
        assert_eq!(Chunked::new().scan(b"2\r\nabc"), Err(BadChunk));
    }

    #[test]
    fn an_empty_body_is_only_the_last_chunk() {
        assert_eq!(Chunked::new().scan(b"0\r\n\r\n"), Ok(Some(5)));
    }
}
