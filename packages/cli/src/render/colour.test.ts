import { describe, expect, it } from 'vitest';
import { colourEnabled, createPalette } from './colour.js';

describe('colourEnabled', () => {
  it('colours a terminal unless NO_COLOR is set; FORCE_COLOR forces it off a terminal', () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourEnabled({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });
});

describe('createPalette', () => {
  it('colours state words by meaning, and nothing when disabled', () => {
    const p = createPalette(true);
    expect(p.state('healthy')).toBe('\u001b[32mhealthy\u001b[39m');
    expect(p.state('degraded')).toBe('\u001b[33mdegraded\u001b[39m');
    expect(p.state('unhealthy')).toContain('\u001b[31m');
    expect(p.state('NON-COMPLIANT')).toContain('\u001b[31m');
    expect(p.state('COMPLIANT')).toContain('\u001b[32m');
    expect(p.state('completed (degraded)')).toContain('\u001b[33m');
    expect(p.state('something else')).toBe('something else');
    const off = createPalette(false);
    expect(off.state('unhealthy')).toBe('unhealthy');
    expect(off.bad('x')).toBe('x');
  });
});
