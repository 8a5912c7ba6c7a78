/**
 * Deliveries/s against fan-out width as a small hand-written SVG: the pipeline's points, and the limit, the
 * target (a share of the limit) and the naive loop as horizontal lines. Both axes are logarithmic, since the
 * limit and the pipeline can be two orders of magnitude apart.
 */
export interface ChartInput {
  title: string;
  caption: string;
  limit: number;
  naive: number;
  /** The target, as a share of the limit. */
  targetShare: number;
  points: { width: number; perSecond: number }[];
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 200, top: 50, bottom: 60 };
const COLORS = {
  pipeline: '#1f77b4',
  limit: '#d62728',
  target: '#7f7f7f',
  naive: '#ff7f0e',
  grid: '#e5e5e5',
};

export function renderChart(input: ChartInput): string {
  const values = [input.limit, input.naive, ...input.points.map((point) => point.perSecond)].filter(
    (value) => value > 0,
  );
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.05));
  const xMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...input.points.map((point) => point.width))));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (width: number) => MARGIN.left + (Math.log10(width) / Math.log10(xMax)) * plotWidth;
  const y = (perSecond: number) =>
    MARGIN.top + plotHeight * (1 - Math.log10(perSecond / yMin) / Math.log10(yMax / yMin));
  const right = MARGIN.left + plotWidth;
  const parts: string[] = [];

  for (let tick = 1; tick <= xMax; tick *= 10) {
    parts.push(
      line(x(tick), MARGIN.top, x(tick), MARGIN.top + plotHeight, COLORS.grid),
      text(x(tick), MARGIN.top + plotHeight + 18, count(tick), 'middle'),
    );
  }
  for (let tick = yMin; tick <= yMax; tick *= 10) {
    parts.push(
      line(MARGIN.left, y(tick), right, y(tick), COLORS.grid),
      text(MARGIN.left - 8, y(tick) + 4, short(tick), 'end'),
    );
  }
  const level = (value: number, color: string, label: string, dash: string) => {
    if (value <= 0) return;
    parts.push(
      line(MARGIN.left, y(value), right, y(value), color, dash),
      text(right + 6, y(value) + 4, `${label} ${count(value)}/s`, 'start', color),
    );
  };
  level(input.limit, COLORS.limit, 'limit', '6 4');
  level(input.limit * input.targetShare, COLORS.target, `target ${input.targetShare} × limit`, '2 3');
  level(input.naive, COLORS.naive, 'naive loop', '6 4');

  const points = input.points.filter((point) => point.perSecond > 0);
  parts.push(
    `<polyline fill="none" stroke="${COLORS.pipeline}" stroke-width="2" points="${points
      .map((point) => `${x(point.width).toFixed(1)},${y(point.perSecond).toFixed(1)}`)
      .join(' ')}"/>`,
  );
  for (const point of points) {
    parts.push(
      `<circle cx="${x(point.width).toFixed(1)}" cy="${y(point.perSecond).toFixed(1)}" r="4" fill="${COLORS.pipeline}"/>`,
      text(x(point.width), y(point.perSecond) - 9, count(point.perSecond), 'middle', COLORS.pipeline),
    );
  }
  const lastPoint = points.at(-1);
  if (lastPoint) {
    parts.push(
      text(
        x(lastPoint.width) + 10,
        y(lastPoint.perSecond) + 4,
        'pipeline (local mode)',
        'start',
        COLORS.pipeline,
      ),
    );
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    text(MARGIN.left, 22, input.title, 'start', '#000', 15),
    text(MARGIN.left, 40, input.caption, 'start', '#555', 11),
    ...parts,
    line(MARGIN.left, MARGIN.top, MARGIN.left, MARGIN.top + plotHeight, '#000'),
    line(MARGIN.left, MARGIN.top + plotHeight, right, MARGIN.top + plotHeight, '#000'),
    text(MARGIN.left + plotWidth / 2, HEIGHT - 18, 'fan-out width (subscribers per event)', 'middle'),
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">deliveries/s</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, dash?: string): string {
  return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${color}"${dash ? ` stroke-dasharray="${dash}" stroke-width="1.5"` : ''}/>`;
}

function text(x: number, y: number, content: string, anchor: string, color = '#333', size?: number): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" fill="${color}"${size ? ` font-size="${size}"` : ''}>${escapeXml(content)}</text>`;
}

function escapeXml(content: string): string {
  return content.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');
const short = (value: number) => (value >= 1000 ? `${count(value / 1000)}k` : count(value));
