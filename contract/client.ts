// A small client as a client team would write it against the generated types: create an
// account, list its open invoices, read a problem's code. `tsc --strict` must accept it.
import type { components, paths } from "./api";

type Schemas = components["schemas"];
type NewAccount = Schemas["NewAccount"];
type AccountView = Schemas["AccountView"];
type Problem = Schemas["Problem"];
type InvoiceQuery = NonNullable<paths["/v1/invoices"]["get"]["parameters"]["query"]>;
type InvoicePage =
  paths["/v1/invoices"]["get"]["responses"][200]["content"]["application/json"];
type Created =
  paths["/v1/accounts"]["post"]["responses"][201]["content"]["application/json"];

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.code}: ${problem.detail}`);
  }
  get code(): string {
    return this.problem.code;
  }
}

async function send<T>(base: string, token: string, path: string, init: RequestInit): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  const body: unknown = await response.json();
  if (!response.ok) {
    throw new ApiProblem(body as Problem);
  }
  return body as T;
}

export async function createAccount(base: string, token: string): Promise<AccountView> {
  const account: NewAccount = {
    legal_name: "Acme Manufacturing Inc.",
    currency: "USD",
    payment_terms_days: 30,
    tax_rate: "8.25",
    billing_address: {
      line1: "100 Main St",
      city: "Springfield",
      region: "IL",
      postal_code: "62701",
      country: "US",
    },
  };
  const created: Created = await send<Created>(base, token, "/v1/accounts", {
    method: "POST",
    body: JSON.stringify(account),
  });
  return created;
}

export async function openInvoices(base: string, token: string, accountId: string): Promise<string[]> {
  const query: InvoiceQuery = { account_id: accountId, status: "open", sort: "due_date", order: "asc" };
  const search = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  );
  const page = await send<InvoicePage>(base, token, `/v1/invoices?${search}`, { method: "GET" });
  return page.data.map((invoice) => `${invoice.number ?? "draft"}: ${invoice.balance_due} ${invoice.currency}`);
}

export function problemCode(error: unknown): string | undefined {
  return error instanceof ApiProblem ? error.code : undefined;
}
