import * as fs from 'fs';
import { README, exampleDiagram, withDiagram } from '../scripts/diagram';

// Each case synthesizes the example site.
jest.setTimeout(60_000);

test('the README\'s architecture diagram is the synthesized example site\'s (run `npx projen diagram` when this fails)', () => {
  const readme = fs.readFileSync(README, 'utf8');
  expect(withDiagram(readme, exampleDiagram())).toEqual(readme);
});

test('the diagram shows what the template says: the tiers, the ports between them, and what backs up and watches them', () => {
  const diagram = exampleDiagram();
  for (const edge of ['Internet -->|TCP 443| LoadBalancer', 'LoadBalancer -->|TCP 80| Instances', 'Instances -->|TCP 3306| Database',
    'Instances -->|TCP 2049| Media', 'DNS -->|alias| LoadBalancer', 'Backup -->|backs up| Database', 'Instances -->|role| Secrets']) {
    expect(diagram).toContain(edge);
  }
  // Nothing reaches the database or the media but the instances.
  expect(diagram.split('\n').filter((line) => /-->\|TCP \d+\| (Database|Media)$/.test(line.trim()))
    .every((line) => line.trim().startsWith('Instances'))).toBe(true);
});
