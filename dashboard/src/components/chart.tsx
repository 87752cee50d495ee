// Chart.js, registered with only the pieces the dashboard draws (bars), so the bundle stays small.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui";
Chart.defaults.color = "#4b5563";
Chart.defaults.animation = false;

export const PALETTE = [
  "#c2410c",
  "#2563eb",
  "#059669",
  "#7c3aed",
  "#db2777",
  "#ca8a04",
  "#0891b2",
  "#4b5563",
  "#65a30d",
  "#9f1239",
];

/**
 * A bar chart, with its numbers also as a table inside the canvas: what screen readers read instead of
 * the picture (and what the browser tests compare with the API).
 */
export function BarChart(props: {
  config: ChartConfiguration<"bar">;
  label: string;
  height?: number;
  format?: (value: number) => string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<"bar"> | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, props.config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    const current = chart.current;
    if (!current) return;
    current.data = props.config.data;
    if (props.config.options) current.options = props.config.options;
    current.update();
  }, [props.config]);
  const labels = (props.config.data.labels ?? []).map(String);
  const format = props.format ?? String;
  return (
    <div class="chart" style={{ height: `${props.height ?? 280}px` }}>
      <canvas ref={canvas} role="img" aria-label={props.label}>
        <table>
          <caption>{props.label}</caption>
          <thead>
            <tr>
              <th />
              {labels.map((label) => (
                <th key={label}>{label}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.config.data.datasets.map((dataset) => (
              <tr key={dataset.label} data-series={dataset.label}>
                <th>{dataset.label}</th>
                {dataset.data.map((value, index) => (
                  <td key={labels[index]} data-label={labels[index]} data-value={String(value)}>
                    {format(Number(value))}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </canvas>
    </div>
  );
}
