import type { HttpResponse } from './request';

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content',
  205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  418: "I'm a teapot", 421: 'Misdirected Request', 422: 'Unprocessable Content', 423: 'Locked',
  424: 'Failed Dependency', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates',
  507: 'Insufficient Storage', 508: 'Loop Detected', 510: 'Not Extended', 511: 'Network Authentication Required',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 400 ? 'Unknown' : 'Error');
}

/** What a client is told for each error status: never a path, a stack or a script's output. */
const EXPLANATIONS: Record<number, string> = {
  400: 'Your browser sent a request that this server could not understand.',
  403: 'You do not have permission to access this resource.',
  404: 'The requested URL was not found on this server.',
  405: 'The requested method is not allowed for this URL.',
  412: 'The precondition on the request for this URL evaluated to false.',
  413: 'The request body is larger than this server accepts.',
  414: 'The requested URL is longer than this server accepts.',
  416: 'None of the requested byte ranges overlap the current extent of the selected resource.',
  431: 'The request headers are larger than this server accepts.',
  500: 'The server encountered an internal error and was unable to complete your request.',
  502: 'The script returned a response this server could not deliver.',
  503: 'The server is busy. Please try again in a moment.',
  504: 'The script did not answer in time.',
};

export function errorResponse(status: number, extraHeaders: Array<[string, string]> = []): HttpResponse {
  return page(status, EXPLANATIONS[status] ?? reasonPhrase(status), extraHeaders);
}

export function redirectResponse(status: number, location: string): HttpResponse {
  const escaped = location.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  return page(status, `The document has moved <a href="${escaped}">here</a>.`, [['Location', location]]);
}

/** The short HTML page every answer of the gateway's own carries; `paragraph` is HTML. */
function page(status: number, paragraph: string, extraHeaders: Array<[string, string]>): HttpResponse {
  const reason = reasonPhrase(status);
  const html =
    `<!DOCTYPE html>\n<html><head><title>${status} ${reason}</title></head>` +
    `<body><h1>${reason}</h1><p>${paragraph}</p></body></html>\n`;
  return {
    status,
    reason,
    headers: [['Content-Type', 'text/html; charset=utf-8'], ...extraHeaders],
    body: Buffer.from(html),
  };
}
