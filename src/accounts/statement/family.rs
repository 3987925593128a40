//! The consolidated statement of a parent account: its statement and those of every account
//! under it, parents before children, with the family's totals. JSON, CSV or PDF.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{build_many, period, Statement, StatementAging, StatementFormat, StatementQuery};
use crate::auth::Permission;
use crate::context::Ctx;
use crate::db::Conn;
use crate::error::ApiError;
use crate::export::csv_field;
use crate::extract::ApiQuery;
use crate::money::Currency;
use crate::openapi::responses::*;
use crate::pdf::{Align, Layout};
use crate::state::AppState;

/// What the family owes: its members' figures added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct FamilyStatementTotals {
    #[schema(value_type = crate::money::DecimalString)]
    pub opening_balance: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub closing_balance: Decimal,
    pub aging: StatementAging,
    #[schema(value_type = crate::money::DecimalString)]
    pub unapplied: Decimal,
    #[schema(value_type = crate::money::DecimalString)]
    pub disputed: Decimal,
}

/// A parent's consolidated statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct FamilyStatement {
    pub account_id: Uuid,
    pub account_number: String,
    pub legal_name: String,
    pub currency: Currency,
    pub from: Date,
    pub to: Date,
    /// The parent's statement, then those of the accounts under it (each followed by its own
    /// children, by number). A partner sees only its own accounts.
    pub members: Vec<Statement>,
    /// The members' balances added up. Cash a parent applied to a site's invoice is a line on
    /// both, and the two cancel out here.
    pub totals: FamilyStatementTotals,
}

/// The family's totals from its members' statements.
pub fn totals(members: &[Statement], currency: Currency) -> FamilyStatementTotals {
    let mut t = FamilyStatementTotals::default();
    for s in members {
        t.opening_balance += s.opening_balance;
        t.closing_balance += s.closing_balance;
        t.aging.add(&s.aging);
        t.unapplied += s.unapplied;
        t.disputed += s.disputed;
    }
    FamilyStatementTotals {
        opening_balance: currency.normalize(t.opening_balance),
        closing_balance: currency.normalize(t.closing_balance),
        aging: t.aging.normalized(currency),
        unapplied: currency.normalize(t.unapplied),
        disputed: currency.normalize(t.disputed),
    }
}

/// The consolidated statement of an account the caller sees and of every account under it
/// the caller sees, for `from..=to`.
async fn build(
    conn: &mut Conn,
    ctx: &Ctx,
    id: Uuid,
    from: Date,
    to: Date,
) -> Result<FamilyStatement, ApiError> {
    let partner = ctx.partner_scope();
    let account = crate::accounts::store::find_visible(conn, id, partner).await?;
    let ids: Vec<Uuid> = crate::accounts::store::subtree(conn, id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut rows = crate::accounts::store::find_many(conn, &ids).await?;
    rows.retain(|r| partner.is_none() || r.partner_id == partner);
    let rows = crate::accounts::family::tree_order(rows, |r| r);
    let members = build_many(conn, &rows, from, to).await?;
    Ok(FamilyStatement {
        totals: totals(&members, account.currency),
        account_id: account.id,
        account_number: account.number,
        legal_name: account.legal_name,
        currency: account.currency,
        from,
        to,
        members,
    })
}

/// Handles the GET /v1/accounts/{id}/family-statement route: the consolidated statement of a
/// parent account for a period, each member's movements and balances and the family's totals.
#[utoipa::path(
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id (the family's parent)"), StatementQuery),
    responses(
        (status = 200, description = "The consolidated statement", content(
            (FamilyStatement = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = []))
)]
#[get("/accounts/{id}/family-statement")]
pub async fn family_statement(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<Uuid>,
    query: ApiQuery<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require(Permission::InvoicesRead)?;
    let (from, to) = period(query.0.from, query.0.to, ctx.now.date())?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let statement = build(&mut conn, &ctx, id.into_inner(), from, to).await?;
    let name = format!("family-statement-{}-{from}-{to}", statement.account_number);
    let (content_type, disposition, body) = match query.0.format.unwrap_or(StatementFormat::Json) {
        StatementFormat::Json => return Ok(HttpResponse::Ok().json(statement)),
        StatementFormat::Csv => (
            "text/csv; charset=utf-8",
            format!("attachment; filename=\"{name}.csv\""),
            family_csv(&statement).into_bytes(),
        ),
        StatementFormat::Pdf => (
            "application/pdf",
            format!("inline; filename=\"{name}.pdf\""),
            family_pdf(&statement),
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .body(body))
}

/// A consolidated statement as CSV: each member's rows with its account number first, then
/// the family's totals.
pub fn family_csv(f: &FamilyStatement) -> String {
    let mut out = String::from("account,date,kind,document,description,amount,balance\n");
    for s in &f.members {
        let account = csv_field(&s.account_number);
        for row in super::render::csv(s).lines().skip(1) {
            out.push_str(&format!("{account},{row}\n"));
        }
    }
    let t = &f.totals;
    out.push_str(&format!(
        "FAMILY,{},opening_balance,,Family opening balance,,{}\n",
        f.from, t.opening_balance
    ));
    out.push_str(&format!(
        "FAMILY,{},closing_balance,,Family closing balance,,{}\n",
        f.to, t.closing_balance
    ));
    out.push_str(&format!(
        "FAMILY,{},disputed,,Of which under dispute,{},\n",
        f.to, t.disputed
    ));
    out
}

/// A consolidated statement as PDF: the family's summary, then each member's statement.
pub fn family_pdf(f: &FamilyStatement) -> Vec<u8> {
    let title = format!(
        "Consolidated statement {} {} to {}",
        f.account_number, f.from, f.to
    );
    let mut page = Layout::new(50);
    page.line(
        16,
        true,
        &format!("Consolidated statement of {}", f.account_number),
    );
    page.line(11, false, &f.legal_name);
    page.line(
        10,
        false,
        &format!(
            "{} to {} ({}), {} account(s)",
            f.from,
            f.to,
            f.currency,
            f.members.len()
        ),
    );
    page.gap(8);
    page.row(
        9,
        true,
        &[
            (50, Align::Left, "Account"),
            (130, Align::Left, "Name"),
            (420, Align::Right, "Opening"),
            (490, Align::Right, "Closing"),
            (562, Align::Right, "Disputed"),
        ],
    );
    page.rule();
    let mut row = |bold: bool, number: &str, name: &str, o: Decimal, c: Decimal, d: Decimal| {
        let (o, c, d) = (o.to_string(), c.to_string(), d.to_string());
        page.row(
            9,
            bold,
            &[
                (50, Align::Left, number),
                (130, Align::Left, name),
                (420, Align::Right, &o),
                (490, Align::Right, &c),
                (562, Align::Right, &d),
            ],
        );
    };
    for s in &f.members {
        row(
            false,
            &s.account_number,
            &s.legal_name,
            s.opening_balance,
            s.closing_balance,
            s.disputed,
        );
    }
    let t = &f.totals;
    row(
        true,
        "Family",
        "",
        t.opening_balance,
        t.closing_balance,
        t.disputed,
    );
    for s in &f.members {
        page.gap(16);
        super::render::write(&mut page, s);
    }
    page.finish(&title)
}
