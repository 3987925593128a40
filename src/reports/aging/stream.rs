//! The aging detail as a stream of bytes: a task reads the rows as the database hands them
//! over, one statement (so one snapshot), and sends the file in pieces through a short
//! channel, which holds the reading back while the client is slow. A client that goes away
//! stops the reading.

use std::io::{Read, Seek};

use actix_web::web::Bytes;
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::{Stream, TryStreamExt};
use tokio::sync::{mpsc, oneshot};

use super::detail::{AgingDetailRow, DetailWriter};
use super::AgingParameters;
use crate::error::ApiError;
use crate::reports::format::ReportFormat;
use crate::reports::store;

/// A connection as `db::conn` hands it out.
type Pooled = Object<AsyncPgConnection>;

/// Bytes gathered before a piece is sent.
const PIECE: usize = 64 * 1024;

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::internal(format!("the workbook: {e}"))
}

fn file_error(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("the workbook's file: {e}"))
}

/// Starts the statement; answers once the database has accepted it (its refusal is the
/// answer's error), then the body follows as it is read.
pub async fn detail(
    conn: Pooled,
    parameters: AgingParameters,
    format: ReportFormat,
) -> Result<impl Stream<Item = Result<Bytes, ApiError>> + 'static, ApiError> {
    let (pieces, body) = mpsc::channel::<Result<Bytes, ApiError>>(4);
    let (started, start) = oneshot::channel::<Result<(), ApiError>>();
    actix_web::rt::spawn(async move {
        let mut conn = conn;
        let mut started = Some(started);
        match write(&mut conn, parameters, format, &pieces, &mut started).await {
            Ok(Written::Whole) => {}
            // Closing the connection ends the statement; back in the pool it would go on
            // receiving rows nobody reads.
            Ok(Written::Abandoned) => drop(Object::take(conn)),
            Err(e) => match started.take() {
                Some(started) => {
                    let _ = started.send(Err(e));
                }
                None => {
                    log::warn!("the aging detail stopped: {e}");
                    let _ = pieces.send(Err(e)).await;
                }
            },
        }
    });
    start
        .await
        .map_err(|_| ApiError::internal("the aging detail stopped before it started"))??;
    Ok(futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|piece| (piece, body))
    }))
}

/// How the writing ended: the whole file sent, or the client gone before.
enum Written {
    Whole,
    Abandoned,
}

async fn write(
    conn: &mut Pooled,
    parameters: AgingParameters,
    format: ReportFormat,
    pieces: &mpsc::Sender<Result<Bytes, ApiError>>,
    started: &mut Option<oneshot::Sender<Result<(), ApiError>>>,
) -> Result<Written, ApiError> {
    let mut writer = DetailWriter::new(parameters.clone(), format).map_err(xlsx_error)?;
    let rows = store::aging_detail(&parameters)
        .load_stream::<AgingDetailRow>(&mut **conn)
        .await?;
    if let Some(started) = started.take() {
        let _ = started.send(Ok(()));
    }
    let mut rows = std::pin::pin!(rows);
    let mut out = writer.start();
    while let Some(row) = rows.try_next().await? {
        writer.row(row, &mut out).map_err(xlsx_error)?;
        if out.len() >= PIECE
            && pieces
                .send(Ok(Bytes::from(std::mem::take(&mut out))))
                .await
                .is_err()
        {
            return Ok(Written::Abandoned);
        }
    }
    if format != ReportFormat::Xlsx {
        out.push_str(&writer.finish(None).map_err(xlsx_error)?);
        let _ = pieces.send(Ok(Bytes::from(out))).await;
        return Ok(Written::Whole);
    }
    let mut file = tempfile::tempfile().map_err(file_error)?;
    writer.finish(Some(&mut file)).map_err(xlsx_error)?;
    file.rewind().map_err(file_error)?;
    let mut buffer = vec![0u8; PIECE];
    loop {
        let n = file.read(&mut buffer).map_err(file_error)?;
        if n == 0 {
            return Ok(Written::Whole);
        }
        if pieces
            .send(Ok(Bytes::copy_from_slice(&buffer[..n])))
            .await
            .is_err()
        {
            return Ok(Written::Abandoned);
        }
    }
}
