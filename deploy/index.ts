/** deploy/: images and manifests for engines beyond one machine. Other areas import from here only. */
export { buildPlatformImage, defaultPlatformImageName, type PlatformImageOptions } from './platform-image.ts';
